//! Evaluation of a parsed formula against one record.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;

use super::{Expr, Func, Op};
use crate::airtable::schema::FieldType;
use crate::airtable::table::{Record, Table};
use crate::common::{airtable_time, parse_time};

/// A formula value. `Error` is Airtable's `#ERROR!`: it excludes the record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Blank,
    Text(String),
    Num(f64),
    Bool(bool),
    Date(OffsetDateTime),
    Error,
}

impl Val {
    pub fn is_truthy(&self) -> bool {
        match self {
            Val::Blank | Val::Error => false,
            Val::Text(s) => !s.is_empty(),
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Bool(b) => *b,
            Val::Date(_) => true,
        }
    }

    fn to_text(&self) -> String {
        match self {
            Val::Blank | Val::Error => String::new(),
            Val::Text(s) => s.clone(),
            Val::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
            Val::Num(n) => n.to_string(),
            Val::Bool(b) => if *b { "1" } else { "0" }.to_string(),
            Val::Date(t) => airtable_time(*t),
        }
    }

    fn to_num(&self) -> Option<f64> {
        match self {
            Val::Blank => Some(0.0),
            Val::Num(n) => Some(*n),
            Val::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Val::Text(s) if s.trim().is_empty() => Some(0.0),
            Val::Text(s) => s.trim().parse().ok(),
            Val::Date(t) => Some((t.unix_timestamp_nanos() / 1_000_000) as f64),
            Val::Error => None,
        }
    }

    fn to_date(&self) -> Option<OffsetDateTime> {
        match self {
            Val::Date(t) => Some(*t),
            Val::Text(s) => parse_time(s.trim()),
            _ => None,
        }
    }

    fn is_blank(&self) -> bool {
        match self {
            Val::Blank => true,
            Val::Text(s) => s.is_empty(),
            _ => false,
        }
    }
}

pub(crate) struct Ctx<'a> {
    pub table: &'a Table,
    pub record: &'a Record,
}

impl Ctx<'_> {
    pub fn eval(&self, expr: &Expr) -> Val {
        match expr {
            Expr::Num(n) => Val::Num(*n),
            Expr::Str(s) => Val::Text(s.clone()),
            Expr::Field(id) => self.field(id),
            Expr::Neg(e) => match self.eval(e).to_num() {
                Some(n) => Val::Num(-n),
                None => Val::Error,
            },
            Expr::Bin(op, l, r) => binary(*op, self.eval(l), self.eval(r)),
            Expr::Call(f, args) => self.call(*f, args),
        }
    }

    /// A cell as a formula value: selects and text are text (multiple selects joined by
    /// ", "), an unchecked box is false, dates are instants.
    fn field(&self, id: &str) -> Val {
        let Some(field) = self.table.field_by_id(id) else {
            return Val::Error;
        };
        // Another formula is not evaluated from here (no cycles to guard).
        if field.field_type == FieldType::Formula {
            return Val::Error;
        }
        let computed = crate::airtable::computed::value(self.table, field, self.record);
        let cell = computed.as_ref().or_else(|| self.record.cells.get(id));
        match (field.field_type, cell) {
            (FieldType::Checkbox, c) => Val::Bool(c.is_some()),
            (_, None) => Val::Blank,
            (FieldType::Number | FieldType::AutoNumber, Some(v)) => {
                v.as_f64().map(Val::Num).unwrap_or(Val::Error)
            }
            (
                FieldType::Date
                | FieldType::DateTime
                | FieldType::CreatedTime
                | FieldType::LastModifiedTime,
                Some(Value::String(s)),
            ) => parse_time(s).map(Val::Date).unwrap_or(Val::Error),
            // A count or a numeric rollup is a number; a lookup or an array rollup reads
            // as its values joined, as the app shows it.
            (FieldType::Count | FieldType::Rollup, Some(Value::Number(n))) => {
                n.as_f64().map(Val::Num).unwrap_or(Val::Error)
            }
            (FieldType::MultipleLookupValues | FieldType::Rollup, Some(v @ Value::Array(_))) => {
                match crate::airtable::cells::to_display_string(v) {
                    Value::String(s) => Val::Text(s),
                    _ => Val::Error,
                }
            }
            (FieldType::MultipleSelects, Some(Value::Array(items))) => Val::Text(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            // A collaborator reads as the name(s) in a formula, as the app shows it.
            (FieldType::SingleCollaborator | FieldType::MultipleCollaborators, Some(v)) => {
                crate::airtable::collaborators::display(v).map_or(Val::Error, Val::Text)
            }
            (_, Some(Value::String(s))) => Val::Text(s.clone()),
            _ => Val::Error,
        }
    }

    fn call(&self, f: Func, args: &[Expr]) -> Val {
        let arg = |i: usize| args.get(i).map(|e| self.eval(e)).unwrap_or(Val::Blank);
        match f {
            Func::And => Val::Bool(args.iter().all(|a| self.eval(a).is_truthy())),
            Func::Or => Val::Bool(args.iter().any(|a| self.eval(a).is_truthy())),
            Func::Not => Val::Bool(!arg(0).is_truthy()),
            Func::If => {
                if arg(0).is_truthy() {
                    arg(1)
                } else {
                    arg(2)
                }
            }
            Func::True => Val::Bool(true),
            Func::False => Val::Bool(false),
            Func::Blank => Val::Blank,
            Func::RecordId => Val::Text(self.record.id.clone()),
            Func::CreatedTime => Val::Date(self.record.created),
            Func::LastModifiedTime => self.last_modified(args),
            Func::IsAfter => compare_dates(&arg(0), &arg(1), Ordering::Greater),
            Func::IsBefore => compare_dates(&arg(0), &arg(1), Ordering::Less),
            Func::DatetimeParse => match arg(0) {
                Val::Blank => Val::Blank,
                v => v.to_date().map(Val::Date).unwrap_or(Val::Error),
            },
            Func::Trim => Val::Text(arg(0).to_text().trim().to_string()),
            Func::Lower => Val::Text(arg(0).to_text().to_lowercase()),
            Func::Upper => Val::Text(arg(0).to_text().to_uppercase()),
            Func::Len => Val::Num(arg(0).to_text().chars().count() as f64),
            Func::Find => find(&arg(0), &arg(1), args.get(2).map(|e| self.eval(e))),
        }
    }

    /// `LAST_MODIFIED_TIME()`: the record's; with fields, the latest change among them
    /// (blank if none of them was ever set).
    fn last_modified(&self, args: &[Expr]) -> Val {
        if args.is_empty() {
            return Val::Date(self.record.last_modified);
        }
        args.iter()
            .filter_map(|a| match a {
                Expr::Field(id) => self.record.field_modified.get(id).copied(),
                _ => None,
            })
            .max()
            .map(Val::Date)
            .unwrap_or(Val::Blank)
    }
}

fn compare_dates(a: &Val, b: &Val, want: Ordering) -> Val {
    if a.is_blank() || b.is_blank() {
        return Val::Bool(false);
    }
    match (a.to_date(), b.to_date()) {
        (Some(x), Some(y)) => Val::Bool(x.cmp(&y) == want),
        _ => Val::Error,
    }
}

/// `FIND(needle, haystack, [start])`: 1-based position, 0 when absent.
fn find(needle: &Val, haystack: &Val, start: Option<Val>) -> Val {
    let (needle, haystack) = (needle.to_text(), haystack.to_text());
    let start = start.and_then(|s| s.to_num()).unwrap_or(1.0).max(1.0) as usize - 1;
    let chars: Vec<char> = haystack.chars().collect();
    if start > chars.len() {
        return Val::Num(0.0);
    }
    let tail: String = chars[start..].iter().collect();
    match tail.find(&needle) {
        Some(byte) => Val::Num((start + tail[..byte].chars().count() + 1) as f64),
        None => Val::Num(0.0),
    }
}

fn binary(op: Op, l: Val, r: Val) -> Val {
    if l == Val::Error || r == Val::Error {
        return Val::Error;
    }
    match op {
        Op::Concat => Val::Text(l.to_text() + &r.to_text()),
        Op::Add | Op::Sub | Op::Mul | Op::Div => arithmetic(op, &l, &r),
        Op::Eq => Val::Bool(equals(&l, &r)),
        Op::Ne => Val::Bool(!equals(&l, &r)),
        Op::Lt | Op::Gt | Op::Le | Op::Ge => match order(&l, &r) {
            Some(ord) => Val::Bool(match op {
                Op::Lt => ord == Ordering::Less,
                Op::Gt => ord == Ordering::Greater,
                Op::Le => ord != Ordering::Greater,
                _ => ord != Ordering::Less,
            }),
            None => Val::Error,
        },
    }
}

fn arithmetic(op: Op, l: &Val, r: &Val) -> Val {
    let (Some(a), Some(b)) = (l.to_num(), r.to_num()) else {
        return Val::Error;
    };
    match op {
        Op::Add => Val::Num(a + b),
        Op::Sub => Val::Num(a - b),
        Op::Mul => Val::Num(a * b),
        _ if b == 0.0 => Val::Error,
        _ => Val::Num(a / b),
    }
}

/// `=`: blank equals "", 0 and false; numbers compare numerically with numeric text;
/// dates compare as instants with text that parses as a date; otherwise as text.
fn equals(l: &Val, r: &Val) -> bool {
    match (l, r) {
        (Val::Blank, other) | (other, Val::Blank) => {
            other.is_blank()
                || matches!(other, Val::Num(n) if *n == 0.0)
                || *other == Val::Bool(false)
        }
        (Val::Date(_), _) | (_, Val::Date(_)) => match (l.to_date(), r.to_date()) {
            (Some(a), Some(b)) => a == b,
            _ => l.to_text() == r.to_text(),
        },
        (Val::Text(a), Val::Text(b)) => a == b,
        _ => match (l.to_num(), r.to_num()) {
            (Some(a), Some(b)) => a == b,
            _ => l.to_text() == r.to_text(),
        },
    }
}

fn order(l: &Val, r: &Val) -> Option<Ordering> {
    match (l, r) {
        (Val::Text(a), Val::Text(b)) => Some(a.cmp(b)),
        (Val::Date(_), _) | (_, Val::Date(_)) => Some(l.to_date()?.cmp(&r.to_date()?)),
        _ => l.to_num()?.partial_cmp(&r.to_num()?),
    }
}
