//! Which frames or slices to keep: the reference's `numpy.linspace(0, n - 1, k)` truncated
//! to integers, and its 1-frame-per-second rule for video.

/// `k` indices spread evenly over `0..n`, as `numpy.linspace(0, n - 1, k).astype(int)`:
/// `i * step` with `step = (n - 1) / (k - 1)`, the last value exactly `n - 1`, each truncated.
/// Indices repeat when `k > n` (as the reference's do). Empty when `n` or `k` is 0.
pub fn linspace_indices(n: usize, k: usize) -> Vec<usize> {
    if n == 0 || k == 0 {
        return Vec::new();
    }
    if k == 1 {
        return vec![0];
    }
    let stop = (n - 1) as f64;
    let step = stop / (k - 1) as f64;
    (0..k)
        .map(|i| {
            if i == k - 1 {
                n - 1
            } else {
                ((i as f64) * step) as usize
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_fixture_slice_choice() {
        // tests/fixtures/cases/*/volume_nifti.json: 25 slices, 8 kept.
        assert_eq!(linspace_indices(25, 8), [0, 3, 6, 10, 13, 17, 20, 24]);
        assert_eq!(linspace_indices(5, 1), [0]);
        assert_eq!(linspace_indices(3, 5), [0, 0, 1, 1, 2]);
        assert!(linspace_indices(0, 4).is_empty());
    }
}
