//! The learning-rate schedule: linear warm-up, then a cosine decay to zero, as `transformers`'
//! `get_cosine_schedule_with_warmup` (half a cycle) computes it; the fixtures'
//! `learning_rates_per_step` pin it.

/// How the learning rate moves over a stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Warm-up steps: the factor rises linearly from 0 (at step 0) to 1 (at this step).
    pub warmup_steps: u64,
    /// Steps of the stage; the cosine reaches 0 here.
    pub total_steps: u64,
}

impl Schedule {
    /// The factor the base learning rate is multiplied by at (0-based) `step`: `step / warmup`
    /// during warm-up (so step 0 has learning rate 0), then `0.5·(1 + cos(π·progress))`.
    pub fn factor(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return step as f64 / self.warmup_steps.max(1) as f64;
        }
        let progress = (step - self.warmup_steps) as f64
            / (self.total_steps.saturating_sub(self.warmup_steps)).max(1) as f64;
        (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_then_half_a_cosine() {
        let s = Schedule {
            warmup_steps: 1,
            total_steps: 4,
        };
        let f: Vec<f64> = (0..4).map(|i| s.factor(i)).collect();
        // The values `get_cosine_schedule_with_warmup(opt, 1, 4)` gives (the fixtures' lrs / base).
        let expected = [0.0, 1.0, 0.75, 0.25];
        for (a, b) in f.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{f:?}");
        }
        assert_eq!(s.factor(4), 0.0);
    }
}
