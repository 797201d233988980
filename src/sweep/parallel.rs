//! Evaluating a sweep's points in parallel (rayon), results in input order, with a progress
//! bar: each point is a pure function of its inputs, so the results are the same on any
//! number of threads.

use rayon::prelude::*;

/// `f` over `items` in parallel, results in the order of `items`; `progress`: a bar counting
/// `what` (e.g. "configurations") on stderr.
pub fn map_in_order<T: Sync, R: Send>(
    items: &[T],
    progress: bool,
    what: &str,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let bar = progress.then(|| {
        let b = indicatif::ProgressBar::new(items.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what}, ETA {{eta}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let out = items
        .par_iter()
        .map(|x| {
            let r = f(x);
            if let Some(b) = &bar {
                b.inc(1);
            }
            r
        })
        .collect();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    out
}
