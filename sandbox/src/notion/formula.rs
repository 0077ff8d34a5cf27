//! Formula properties, as Notion's API reference documents them: the schema is
//! `{"formula": {"expression": "…"}}` (data source object, "Formula"), and a page reads
//! `{"type": "formula", "formula": {"type": "string"|"number"|"boolean"|"date", <type>: …}}`
//! (page-property-values, "Formula"). Writes are refused as for every computed property.
//!
//! The sandbox evaluates a small subset of Notion's formula language: `prop("Name")`,
//! string, number and `true`/`false` literals, `+` (numbers, or text joined), `-`, `*`,
//! `/`, comparisons (`==`, `!=`, `>`, `<`, `>=`, `<=`), parentheses, and `upper`, `lower`,
//! `length`, `concat`, `format`, `toNumber`, `round`, `empty` and `if`. An expression it
//! cannot parse, or that names a property the data source does not have, is refused when
//! the property is added. The result's type follows the value; an evaluation error reads as
//! an empty string result [U: Notion's editor refuses such formulas].

use serde_json::{Value, json};

use super::errors::{NotionError, NotionResult};

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Str(String),
    Num(f64),
    Bool(bool),
    Prop(String),
    Bin(char, Box<Expr>, Box<Expr>),
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Call(String, Vec<Expr>),
}

/// A value while evaluating: a date is kept as Notion's date object.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Num(f64),
    Bool(bool),
    Date(Value),
    Empty,
}

const FUNCTIONS: [&str; 9] = [
    "upper", "lower", "length", "concat", "format", "toNumber", "round", "empty", "if",
];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Str(String),
    Num(f64),
    Ident(String),
    Op(&'static str),
}

fn tokens(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&x| x == '"')
                .ok_or("unterminated string")?;
            out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_digit() || c == '.' {
            let end = chars[i..]
                .iter()
                .position(|x| !(x.is_ascii_digit() || *x == '.'))
                .map_or(chars.len(), |p| i + p);
            let text: String = chars[i..end].iter().collect();
            out.push(Tok::Num(
                text.parse().map_err(|_| format!("bad number {text}"))?,
            ));
            i = end;
        } else if c.is_alphabetic() {
            let end = chars[i..]
                .iter()
                .position(|x| !(x.is_alphanumeric() || *x == '_'))
                .map_or(chars.len(), |p| i + p);
            out.push(Tok::Ident(chars[i..end].iter().collect()));
            i = end;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["==", "!=", ">=", "<="]
                .into_iter()
                .find(|o| *o == two)
                .or_else(|| {
                    ["+", "-", "*", "/", ">", "<", "(", ")", ","]
                        .into_iter()
                        .find(|o| o.starts_with(c))
                })
                .ok_or_else(|| format!("unexpected {c:?}"))?;
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.at) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.peek_op() == Some(op) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected {op}"))
        }
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.sum()?;
        match self.peek_op() {
            Some(op @ ("==" | "!=" | ">" | "<" | ">=" | "<=")) => {
                self.at += 1;
                Ok(Expr::Cmp(op, Box::new(left), Box::new(self.sum()?)))
            }
            _ => Ok(left),
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(op @ ("+" | "-")) = self.peek_op() {
            self.at += 1;
            let right = self.product()?;
            left = Expr::Bin(
                op.chars().next().unwrap_or('+'),
                Box::new(left),
                Box::new(right),
            );
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(op @ ("*" | "/")) = self.peek_op() {
            self.at += 1;
            let right = self.unary()?;
            left = Expr::Bin(
                op.chars().next().unwrap_or('*'),
                Box::new(left),
                Box::new(right),
            );
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_op() == Some("-") {
            self.at += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let tok = self.toks.get(self.at).cloned().ok_or("unexpected end")?;
        self.at += 1;
        match tok {
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Op("(") => {
                let inner = self.comparison()?;
                self.expect(")")?;
                Ok(inner)
            }
            Tok::Ident(name) if name == "true" || name == "false" => Ok(Expr::Bool(name == "true")),
            Tok::Ident(name) => self.call(name),
            Tok::Op(o) => Err(format!("unexpected {o}")),
        }
    }

    fn call(&mut self, name: String) -> Result<Expr, String> {
        self.expect("(")?;
        let mut args = Vec::new();
        if self.peek_op() != Some(")") {
            loop {
                args.push(self.comparison()?);
                if self.peek_op() != Some(",") {
                    break;
                }
                self.at += 1;
            }
        }
        self.expect(")")?;
        match (name.as_str(), args.as_slice()) {
            ("prop", [Expr::Str(p)]) => Ok(Expr::Prop(p.clone())),
            ("prop", _) => Err("prop() takes a property name".into()),
            (f, _) if FUNCTIONS.contains(&f) => Ok(Expr::Call(name, args)),
            (f, _) => Err(format!("unknown function {f}")),
        }
    }
}

/// Parse an expression; `known` says whether a property name exists.
pub fn parse(src: &str, known: impl Fn(&str) -> bool) -> NotionResult<Expr> {
    let refuse = |m: String| NotionError::validation(format!("Formula is invalid: {m}."));
    let mut parser = Parser {
        toks: tokens(src).map_err(refuse)?,
        at: 0,
    };
    let expr = parser.comparison().map_err(refuse)?;
    if parser.at != parser.toks.len() {
        return Err(refuse("unexpected text after the expression".into()));
    }
    let mut missing = None;
    visit_props(&expr, &mut |p| {
        if !known(p) {
            missing.get_or_insert_with(|| p.to_string());
        }
    });
    match missing {
        Some(p) => Err(refuse(format!("no property named {p:?}"))),
        None => Ok(expr),
    }
}

fn visit_props(expr: &Expr, f: &mut impl FnMut(&str)) {
    match expr {
        Expr::Prop(p) => f(p),
        Expr::Bin(_, a, b) | Expr::Cmp(_, a, b) => {
            visit_props(a, f);
            visit_props(b, f);
        }
        Expr::Neg(a) => visit_props(a, f),
        Expr::Call(_, args) => args.iter().for_each(|a| visit_props(a, f)),
        _ => {}
    }
}

fn text(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Val::Num(n) => n.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Date(d) => d["start"].as_str().unwrap_or_default().to_string(),
        Val::Empty => String::new(),
    }
}

fn number(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => Some(*n),
        Val::Empty => Some(0.0),
        _ => None,
    }
}

/// Evaluate with `prop` giving a property's value; `None` is an evaluation error.
pub fn eval(expr: &Expr, prop: &impl Fn(&str) -> Val) -> Option<Val> {
    Some(match expr {
        Expr::Str(s) => Val::Str(s.clone()),
        Expr::Num(n) => Val::Num(*n),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Prop(p) => prop(p),
        Expr::Neg(a) => Val::Num(-number(&eval(a, prop)?)?),
        Expr::Bin(op, a, b) => {
            let (a, b) = (eval(a, prop)?, eval(b, prop)?);
            if *op == '+' && (matches!(a, Val::Str(_)) || matches!(b, Val::Str(_))) {
                return Some(Val::Str(text(&a) + &text(&b)));
            }
            let (x, y) = (number(&a)?, number(&b)?);
            Val::Num(match op {
                '+' => x + y,
                '-' => x - y,
                '*' => x * y,
                _ if y == 0.0 => return None,
                _ => x / y,
            })
        }
        Expr::Cmp(op, a, b) => {
            let (a, b) = (eval(a, prop)?, eval(b, prop)?);
            let order = match (number(&a), number(&b)) {
                (Some(x), Some(y)) => x.partial_cmp(&y)?,
                _ => text(&a).cmp(&text(&b)),
            };
            Val::Bool(match *op {
                "==" => order.is_eq(),
                "!=" => order.is_ne(),
                ">" => order.is_gt(),
                "<" => order.is_lt(),
                ">=" => order.is_ge(),
                _ => order.is_le(),
            })
        }
        Expr::Call(f, args) => call(f, args, prop)?,
    })
}

fn call(f: &str, args: &[Expr], prop: &impl Fn(&str) -> Val) -> Option<Val> {
    let arg = |i: usize| args.get(i).and_then(|a| eval(a, prop));
    Some(match f {
        "upper" => Val::Str(text(&arg(0)?).to_uppercase()),
        "lower" => Val::Str(text(&arg(0)?).to_lowercase()),
        "length" => Val::Num(text(&arg(0)?).chars().count() as f64),
        "format" => Val::Str(text(&arg(0)?)),
        "concat" => Val::Str(
            (0..args.len())
                .map(|i| arg(i).map(|v| text(&v)))
                .collect::<Option<String>>()?,
        ),
        "toNumber" => match arg(0)? {
            Val::Num(n) => Val::Num(n),
            Val::Bool(b) => Val::Num(f64::from(u8::from(b))),
            v => text(&v).trim().parse().map(Val::Num).unwrap_or(Val::Empty),
        },
        "round" => Val::Num(number(&arg(0)?)?.round()),
        "empty" => Val::Bool(match arg(0)? {
            Val::Empty => true,
            Val::Str(s) => s.is_empty(),
            Val::Num(n) => n == 0.0,
            Val::Bool(b) => !b,
            Val::Date(_) => false,
        }),
        _ => {
            let truthy = match arg(0)? {
                Val::Bool(b) => b,
                Val::Empty => false,
                Val::Str(s) => !s.is_empty(),
                Val::Num(n) => n != 0.0,
                Val::Date(_) => true,
            };
            arg(if truthy { 1 } else { 2 }).unwrap_or(Val::Empty)
        }
    })
}

/// A number as JavaScript prints it in JSON: whole numbers without a fraction.
pub fn js_number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// The page's `formula` object for a result (`None`: an evaluation error).
pub fn result_json(result: Option<Val>) -> Value {
    match result {
        Some(Val::Num(n)) => json!({"type": "number", "number": js_number(n)}),
        Some(Val::Bool(b)) => json!({"type": "boolean", "boolean": b}),
        Some(Val::Date(d)) => json!({"type": "date", "date": d}),
        Some(Val::Str(s)) => json!({"type": "string", "string": s}),
        Some(Val::Empty) | None => json!({"type": "string", "string": null}),
    }
}

#[cfg(test)]
#[path = "formula_tests.rs"]
mod tests;
