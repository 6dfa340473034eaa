//! Python's `round(x, ndigits)` for floats.
//!
//! Python rounds the exact binary value of `x` to `ndigits` decimals, breaking exact ties to
//! even: `round(0.25, 1)` is `0.2` (0.25 is exact), `round(0.35, 1)` is `0.3` (0.35 is stored as
//! 0.34999...). Multiplying by ten and rounding, as `minijinja`'s `round` does, gets both wrong.

/// Digits enough to print any finite `f64` exactly (the longest expansion has 1074 decimals).
const EXACT_DIGITS: usize = 1100;

/// `round(x, digits)` as Python computes it.
pub fn python_round(x: f64, digits: i32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if digits < 0 {
        // Rounding to tens, hundreds...: the scaled value is exact enough for ties to matter
        // only on integers, where `round_ties_even` is exact.
        let scale = 10f64.powi(-digits);
        return (x / scale).round_ties_even() * scale;
    }
    let digits = digits as usize;
    if digits >= EXACT_DIGITS {
        return x;
    }
    // The exact decimal expansion of |x|.
    let exact = format!("{:.*}", EXACT_DIGITS, x.abs());
    let (int_part, frac_part) = exact.split_once('.').unwrap_or((&exact, ""));
    let (kept, rest) = frac_part.split_at(digits.min(frac_part.len()));
    let mut number: Vec<u8> = int_part.bytes().chain(kept.bytes()).collect();

    let first = rest.bytes().next().unwrap_or(b'0');
    let tail_nonzero = rest.bytes().skip(1).any(|b| b != b'0');
    let last_odd = number.last().is_some_and(|d| (d - b'0') % 2 == 1);
    let round_up = first > b'5' || (first == b'5' && (tail_nonzero || last_odd));
    if round_up {
        increment_decimal(&mut number);
    }

    let int_len = number.len() - kept.len();
    let text = format!(
        "{}.{}",
        std::str::from_utf8(&number[..int_len]).unwrap_or("0"),
        std::str::from_utf8(&number[int_len..]).unwrap_or("0"),
    );
    let magnitude: f64 = text.trim_end_matches('.').parse().unwrap_or(f64::NAN);
    magnitude.copysign(x)
}

/// Adds one to the last digit of an ASCII decimal, carrying left (may grow by one digit).
fn increment_decimal(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

#[cfg(test)]
mod tests {
    use super::python_round;

    /// Values and results checked against CPython 3 `round`.
    #[test]
    fn matches_python() {
        let cases = [
            (0.25, 1, 0.2),
            (0.35, 1, 0.3),
            (0.15, 1, 0.1),
            (0.45, 1, 0.5),
            (2.675, 2, 2.67),
            (0.166665, 1, 0.2),
            (0.966657, 1, 1.0),
            (2.5, 0, 2.0),
            (3.5, 0, 4.0),
            (-0.25, 1, -0.2),
            (-2.5, 0, -2.0),
            (9.96, 1, 10.0),
            (1234.5678, 2, 1234.57),
            (1e-300, 3, 0.0),
            (125.0, -1, 120.0),
            (135.0, -1, 140.0),
        ];
        for (x, digits, expected) in cases {
            assert_eq!(python_round(x, digits), expected, "round({x}, {digits})");
        }
    }

    #[test]
    fn passes_non_finite_through() {
        assert!(python_round(f64::NAN, 1).is_nan());
        assert_eq!(python_round(f64::INFINITY, 1), f64::INFINITY);
    }
}
