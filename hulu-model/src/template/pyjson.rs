//! The `tojson` filter as `transformers` defines it for chat templates: Python's
//! `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
//!
//! Qwen's tool templates print every tool schema and tool-call argument list through it, so its
//! exact text reaches the model: `", "` and `": "` separators, keys in insertion order,
//! non-ASCII kept, and floats written as Python's `repr` (`1.0`, `1e-05`). `minijinja`'s own
//! `tojson` writes compact, HTML-escaped JSON and would change the prompt's tokens.

use std::fmt::Write;

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};

/// Nesting deeper than this is refused (Python would hit its recursion limit near 1000).
const MAX_DEPTH: usize = 512;

/// How `json.dumps` was asked to format.
struct Style {
    ensure_ascii: bool,
    /// `None`: one line. `Some(unit)`: newline, then `unit` once per nesting level.
    indent: Option<String>,
    item_separator: String,
    key_separator: String,
    sort_keys: bool,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

impl Style {
    fn from_kwargs(kwargs: &Kwargs) -> Result<Self, Error> {
        let ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false);
        let sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
        // Python: an int indents by that many spaces (negative counts as 0; here at most 64),
        // a string is used as is, None keeps everything on one line. (A `none` argument reads
        // as absent.)
        let indent = match kwargs.get::<Option<Value>>("indent")? {
            None => None,
            Some(v) => match (v.as_str(), v.as_i64()) {
                (Some(unit), _) => Some(unit.to_string()),
                (None, Some(n)) => Some(" ".repeat(n.clamp(0, 64) as usize)),
                (None, None) => {
                    return Err(invalid(format!("tojson indent must be an int, not {v}")))
                }
            },
        };
        // With an indent Python drops the space after the item comma.
        let default_items = if indent.is_some() { "," } else { ", " };
        let (item_separator, key_separator) = match kwargs.get::<Option<Value>>("separators")? {
            None => (default_items.to_string(), ": ".to_string()),
            Some(v) => {
                let not_a_pair = || invalid("tojson separators must be a pair of strings");
                let parts: Vec<Value> = v.try_iter().map_err(|_| not_a_pair())?.collect();
                let pair = match parts.as_slice() {
                    [a, b] => a.as_str().zip(b.as_str()),
                    _ => None,
                };
                let (items, keys) = pair.ok_or_else(not_a_pair)?;
                (items.to_string(), keys.to_string())
            }
        };
        kwargs.assert_all_used()?;
        Ok(Style {
            ensure_ascii,
            indent,
            item_separator,
            key_separator,
            sort_keys,
        })
    }

    fn newline(&self, out: &mut String, depth: usize) {
        if let Some(unit) = &self.indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(unit);
            }
        }
    }
}

/// `value | tojson(ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
pub(crate) fn tojson_filter(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let style = Style::from_kwargs(&kwargs)?;
    let mut out = String::new();
    write_value(&mut out, value, &style, 0)?;
    Ok(Value::from(out))
}

fn write_value(out: &mut String, value: &Value, style: &Style, depth: usize) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(invalid("tojson: value nested too deeply"));
    }
    match value.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => write_number(out, value)?,
        ValueKind::String => write_string(out, value.as_str().unwrap_or_default(), style),
        ValueKind::Seq => {
            let items: Vec<Value> = value.try_iter()?.collect();
            write_list(out, &items, style, depth)?;
        }
        ValueKind::Map => write_map(out, value, style, depth)?,
        kind => {
            return Err(invalid(format!(
                "Object of type {kind} is not JSON serializable"
            )))
        }
    }
    Ok(())
}

fn write_list(out: &mut String, items: &[Value], style: &Style, depth: usize) -> Result<(), Error> {
    if items.is_empty() {
        out.push_str("[]");
        return Ok(());
    }
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&style.item_separator);
        }
        style.newline(out, depth + 1);
        write_value(out, item, style, depth + 1)?;
    }
    style.newline(out, depth);
    out.push(']');
    Ok(())
}

fn write_map(out: &mut String, map: &Value, style: &Style, depth: usize) -> Result<(), Error> {
    let mut entries = Vec::new();
    for key in map.try_iter()? {
        let item = map.get_item(&key)?;
        entries.push((key_text(&key)?, item));
    }
    if entries.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    if style.sort_keys {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
    }
    out.push('{');
    for (i, (key, item)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(&style.item_separator);
        }
        style.newline(out, depth + 1);
        write_string(out, key, style);
        out.push_str(&style.key_separator);
        write_value(out, item, style, depth + 1)?;
    }
    style.newline(out, depth);
    out.push('}');
    Ok(())
}

/// Python turns non-string keys into strings the way it writes them as values.
fn key_text(key: &Value) -> Result<String, Error> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_string()),
        ValueKind::None => Ok("null".to_string()),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.to_string()),
        ValueKind::Number => {
            let mut text = String::new();
            write_number(&mut text, key)?;
            Ok(text)
        }
        kind => Err(invalid(format!(
            "keys must be str, int, float, bool or None, not {kind}"
        ))),
    }
}

fn write_number(out: &mut String, value: &Value) -> Result<(), Error> {
    if value.is_integer() {
        // Integers of any width print as decimal digits, as Python's int does.
        write!(out, "{value}").map_err(|e| invalid(e.to_string()))?;
        return Ok(());
    }
    let x = f64::try_from(value.clone())?;
    out.push_str(&python_float_repr(x));
    Ok(())
}

/// `repr(x)` for a Python float, which `json.dumps` uses (with `NaN` and `Infinity`).
///
/// The shortest digits that read back as `x`, written positionally when the decimal exponent
/// is in `-4..16` (with `.0` if there is no fraction), else as `d.ddde±XX`.
pub(crate) fn python_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits, as `d.ddddeN`.
    let sci = format!("{x:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{text}")
    } else {
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

/// A JSON string as `json.dumps` escapes it.
fn write_string(out: &mut String, s: &str, style: &Style) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if style.ensure_ascii && !c.is_ascii() => {
                // Beyond the BMP, Python writes the UTF-16 surrogate pair.
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::python_float_repr;

    #[test]
    fn float_repr_matches_python() {
        // Each pair is (x, repr(x)) as CPython prints it.
        let cases = [
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789.125, "123456789.125"),
            (1.5e300, "1.5e+300"),
            (-2.5e-7, "-2.5e-07"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, want) in cases {
            assert_eq!(python_float_repr(x), want, "{x:e}");
        }
    }
}
