//! Tokeniser and recursive-descent parser for the `filterByFormula` subset.
//!
//! Precedence, lowest first: comparison (`= != < > <= >=`), `&`, `+ -`, `* /`, unary `-`.
//! Field references are `{Name}`, `{fldId}` or a bare name without spaces; they are resolved
//! to field ids while parsing so an unknown field fails the request (as Airtable does).

use super::{Expr, Func, Op};

/// Why a formula was refused; becomes the message of `INVALID_FILTER_BY_FORMULA`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    Syntax,
    UnknownField(String),
    Unsupported(String),
}

impl ParseError {
    pub fn message(&self) -> String {
        match self {
            Self::Syntax => "Invalid formula. Please check your formula text.".to_string(),
            Self::UnknownField(name) => format!("Unknown field names: {name}"),
            Self::Unsupported(what) => format!("{what} is not supported by the sandbox"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Field(String),
    Ident(String),
    LParen,
    RParen,
    Comma,
    Op(Op),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let tok = match c {
            c if c.is_whitespace() => continue,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            ',' => Tok::Comma,
            '"' | '\'' => Tok::Str(read_string(&chars, &mut i, c)?),
            '{' => Tok::Field(read_until(&chars, &mut i, '}')?),
            c if c.is_ascii_digit() || c == '.' => Tok::Num(read_number(&chars, &mut i)?),
            c if c.is_alphabetic() || c == '_' => Tok::Ident(read_ident(&chars, &mut i)),
            _ => Tok::Op(read_op(&chars, &mut i, c)?),
        };
        toks.push(tok);
    }
    Ok(toks)
}

fn read_string(chars: &[char], i: &mut usize, quote: char) -> Result<String, ParseError> {
    let mut out = String::new();
    while *i < chars.len() {
        let c = chars[*i];
        *i += 1;
        match c {
            '\\' if *i < chars.len() => {
                let e = chars[*i];
                *i += 1;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
            }
            c if c == quote => return Ok(out),
            c => out.push(c),
        }
    }
    Err(ParseError::Syntax)
}

fn read_until(chars: &[char], i: &mut usize, end: char) -> Result<String, ParseError> {
    let start = *i;
    while *i < chars.len() && chars[*i] != end {
        *i += 1;
    }
    if *i >= chars.len() {
        return Err(ParseError::Syntax);
    }
    let s: String = chars[start..*i].iter().collect();
    *i += 1;
    Ok(s)
}

fn read_number(chars: &[char], i: &mut usize) -> Result<f64, ParseError> {
    let start = *i - 1;
    while *i < chars.len() && (chars[*i].is_ascii_digit() || chars[*i] == '.') {
        *i += 1;
    }
    let s: String = chars[start..*i].iter().collect();
    s.parse().map_err(|_| ParseError::Syntax)
}

fn read_ident(chars: &[char], i: &mut usize) -> String {
    let start = *i - 1;
    while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

fn read_op(chars: &[char], i: &mut usize, c: char) -> Result<Op, ParseError> {
    let next = chars.get(*i).copied();
    let two = |op: Op, i: &mut usize| {
        *i += 1;
        op
    };
    Ok(match (c, next) {
        ('!', Some('=')) => two(Op::Ne, i),
        ('<', Some('=')) => two(Op::Le, i),
        ('>', Some('=')) => two(Op::Ge, i),
        ('=', _) => Op::Eq,
        ('<', _) => Op::Lt,
        ('>', _) => Op::Gt,
        ('&', _) => Op::Concat,
        ('+', _) => Op::Add,
        ('-', _) => Op::Sub,
        ('*', _) => Op::Mul,
        ('/', _) => Op::Div,
        _ => return Err(ParseError::Syntax),
    })
}

/// Parse `src`, resolving field references with `resolve` (name or id → field id).
pub(crate) fn parse(
    src: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Expr, ParseError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        pos: 0,
        resolve,
    };
    let expr = p.comparison()?;
    if p.pos != p.toks.len() {
        return Err(ParseError::Syntax);
    }
    Ok(expr)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    resolve: &'a dyn Fn(&str) -> Option<String>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_op(&self, ops: &[Op]) -> Option<Op> {
        match self.peek() {
            Some(Tok::Op(op)) if ops.contains(op) => Some(*op),
            _ => None,
        }
    }

    /// One precedence level: `next_level (op next_level)*`, left-associative.
    fn level(
        &mut self,
        ops: &[Op],
        next_level: fn(&mut Self) -> Result<Expr, ParseError>,
    ) -> Result<Expr, ParseError> {
        let mut left = next_level(self)?;
        while let Some(op) = self.peek_op(ops) {
            self.pos += 1;
            let right = next_level(self)?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        self.level(
            &[Op::Eq, Op::Ne, Op::Lt, Op::Gt, Op::Le, Op::Ge],
            Self::concat,
        )
    }

    fn concat(&mut self) -> Result<Expr, ParseError> {
        self.level(&[Op::Concat], Self::additive)
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        self.level(&[Op::Add, Op::Sub], Self::multiplicative)
    }

    fn multiplicative(&mut self) -> Result<Expr, ParseError> {
        self.level(&[Op::Mul, Op::Div], Self::unary)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peek_op(&[Op::Sub]).is_some() {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.next().ok_or(ParseError::Syntax)? {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Field(name) => self.field(&name),
            Tok::Ident(name) if self.peek() == Some(&Tok::LParen) => self.call(&name),
            Tok::Ident(name) => self.field(&name),
            Tok::LParen => {
                let e = self.comparison()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(e),
                    _ => Err(ParseError::Syntax),
                }
            }
            _ => Err(ParseError::Syntax),
        }
    }

    fn field(&self, name: &str) -> Result<Expr, ParseError> {
        (self.resolve)(name)
            .map(Expr::Field)
            .ok_or_else(|| ParseError::UnknownField(name.to_string()))
    }

    fn call(&mut self, name: &str) -> Result<Expr, ParseError> {
        let func = Func::from_name(name)
            .ok_or_else(|| ParseError::Unsupported(format!("the function {name}()")))?;
        self.pos += 1; // the '('
        let mut args = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
        } else {
            loop {
                args.push(self.comparison()?);
                match self.next() {
                    Some(Tok::Comma) => continue,
                    Some(Tok::RParen) => break,
                    _ => return Err(ParseError::Syntax),
                }
            }
        }
        func.check_args(name, &args)?;
        Ok(Expr::Call(func, args))
    }
}
