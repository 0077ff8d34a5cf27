//! `filterByFormula`: a small, honest evaluator for a documented subset of Airtable's formula
//! language. Anything outside the subset fails with 422 `INVALID_FILTER_BY_FORMULA` naming
//! what the sandbox does not support, rather than silently matching the wrong records.
//!
//! Supported: field references `{Name}` / `{fldId}` / bare names, string and number literals,
//! `= != < > <= >=`, `&`, `+ - * /`, and the functions `AND OR NOT IF TRUE FALSE BLANK
//! RECORD_ID CREATED_TIME LAST_MODIFIED_TIME IS_AFTER IS_BEFORE DATETIME_PARSE TRIM LOWER UPPER
//! LEN FIND`. `LAST_MODIFIED_TIME({F}, ...)` uses per-field modified times kept at millisecond
//! precision [U: Airtable's precision is not documented].
//!
//! A record is included when the result is not 0, false, "", NaN, blank or an error (the
//! list-records docs).

mod eval;
mod parse;

use super::errors::{AtError, AtResult};
use super::table::{Record, Table};

pub(crate) use parse::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    And,
    Or,
    Not,
    If,
    True,
    False,
    Blank,
    RecordId,
    CreatedTime,
    LastModifiedTime,
    IsAfter,
    IsBefore,
    DatetimeParse,
    Trim,
    Lower,
    Upper,
    Len,
    Find,
}

impl Func {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "AND" => Self::And,
            "OR" => Self::Or,
            "NOT" => Self::Not,
            "IF" => Self::If,
            "TRUE" => Self::True,
            "FALSE" => Self::False,
            "BLANK" => Self::Blank,
            "RECORD_ID" => Self::RecordId,
            "CREATED_TIME" => Self::CreatedTime,
            "LAST_MODIFIED_TIME" => Self::LastModifiedTime,
            "IS_AFTER" => Self::IsAfter,
            "IS_BEFORE" => Self::IsBefore,
            "DATETIME_PARSE" => Self::DatetimeParse,
            "TRIM" => Self::Trim,
            "LOWER" => Self::Lower,
            "UPPER" => Self::Upper,
            "LEN" => Self::Len,
            "FIND" => Self::Find,
            _ => return None,
        })
    }

    /// Accepted argument counts (min, max).
    fn arity(self) -> (usize, usize) {
        match self {
            Self::And | Self::Or => (1, usize::MAX),
            Self::LastModifiedTime => (0, usize::MAX),
            Self::True | Self::False | Self::Blank | Self::RecordId | Self::CreatedTime => (0, 0),
            Self::Not | Self::Trim | Self::Lower | Self::Upper | Self::Len => (1, 1),
            Self::IsAfter | Self::IsBefore => (2, 2),
            Self::If | Self::Find => (2, 3),
            Self::DatetimeParse => (1, 1),
        }
    }

    fn check_args(self, name: &str, args: &[Expr]) -> Result<(), ParseError> {
        if self == Self::DatetimeParse && args.len() > 1 {
            return Err(ParseError::Unsupported(
                "DATETIME_PARSE() with a format or locale argument".to_string(),
            ));
        }
        let (min, max) = self.arity();
        if args.len() < min || args.len() > max {
            return Err(ParseError::Syntax);
        }
        if self == Self::LastModifiedTime && args.iter().any(|a| !matches!(a, Expr::Field(_))) {
            return Err(ParseError::Unsupported(format!(
                "{name}() with arguments other than field references"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Num(f64),
    Str(String),
    /// A field id.
    Field(String),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

/// A parsed formula, ready to test records of the table it was parsed against.
#[derive(Debug, Clone)]
pub(crate) struct Formula {
    expr: Expr,
}

impl Formula {
    /// Parse `src` against `table`'s fields; errors are the 422 the client gets.
    pub fn compile(src: &str, table: &Table) -> AtResult<Self> {
        let resolve = |key: &str| table.field(key).map(|f| f.id.clone());
        parse::parse(src, &resolve)
            .map(|expr| Self { expr })
            .map_err(|e| AtError::invalid_formula(&e.message()))
    }

    /// The formula's result as a formula field's cell: absent when blank, text, a number,
    /// 1/0 for a logical result, an ISO instant, or `{"error": "#ERROR!"}`.
    pub fn cell(&self, table: &Table, record: &Record) -> Option<serde_json::Value> {
        use eval::Val;
        use serde_json::json;
        match (eval::Ctx { table, record }).eval(&self.expr) {
            Val::Blank => None,
            Val::Text(s) if s.is_empty() => None,
            Val::Text(s) => Some(json!(s)),
            Val::Num(n) if n.is_finite() => Some(json!(n)),
            Val::Num(_) => Some(json!({"specialValue": "NaN"})),
            Val::Bool(b) => Some(json!(u8::from(b))),
            Val::Date(t) => Some(json!(crate::common::airtable_time(t))),
            Val::Error => Some(json!({"error": "#ERROR!"})),
        }
    }

    pub fn matches(&self, table: &Table, record: &Record) -> bool {
        eval::Ctx { table, record }.eval(&self.expr).is_truthy()
    }
}

#[cfg(test)]
mod tests;
