//! Shared helper of the streaming text filters: how much of a buffer's end could still grow
//! into a marker, and so must not be emitted yet.

/// Length in bytes of the longest suffix of `text` that is a proper prefix of one of
/// `markers` (cut on character boundaries).
pub(crate) fn partial_marker_suffix<'a>(
    text: &str,
    markers: impl IntoIterator<Item = &'a str>,
) -> usize {
    let mut longest = 0;
    for marker in markers {
        // Proper prefixes of the marker, longest first, that end on a character boundary.
        let prefix_ends = marker
            .char_indices()
            .map(|(i, _)| i)
            .filter(|&i| i > longest)
            .rev();
        for end in prefix_ends {
            if text.ends_with(&marker[..end]) {
                longest = end;
                break;
            }
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::partial_marker_suffix;

    #[test]
    fn finds_the_longest_partial_marker() {
        assert_eq!(partial_marker_suffix("abc<thi", ["<think>"]), 4);
        assert_eq!(partial_marker_suffix("abc<think>", ["<think>"]), 0);
        assert_eq!(partial_marker_suffix("abc", ["<think>"]), 0);
        assert_eq!(partial_marker_suffix("x</", ["<think>", "</think>"]), 2);
        assert_eq!(partial_marker_suffix("日本", ["本当", "x"]), "本".len());
    }
}
