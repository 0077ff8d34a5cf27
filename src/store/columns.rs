//! How values are stored in columns: enumerations as snake_case TEXT, JSON as
//! TEXT, and the checked way back.

/// Defines an enum whose variants are stored as fixed strings, with
/// `as_str`, `FromStr`, `Display` and serde (as the same strings).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} `{other}`", stringify!($name)
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// Parse a TEXT column into one of the enums above, naming the column if the
/// value is unknown (a newer build wrote it, or the row was edited by hand).
pub(crate) fn parse_column<T: std::str::FromStr<Err = String>>(
    table: &'static str,
    column: &'static str,
    value: &str,
) -> Result<T, super::StoreError> {
    value.parse().map_err(|problem| super::StoreError::Corrupt {
        table,
        column,
        problem,
    })
}

/// Parse a JSON TEXT column.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    value: &str,
) -> Result<T, super::StoreError> {
    serde_json::from_str(value).map_err(|e| super::StoreError::Corrupt {
        table,
        column,
        problem: format!("invalid JSON: {e}"),
    })
}
