//! Seeded, stratified train/test splits for datasets that come without one.

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// Fisher–Yates shuffle with splitmix64: a fixed algorithm, so that splits
/// and training orders are the same on every machine and with every version
/// of csrs.
pub fn shuffle<T>(rng: &mut SplitMix64, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Splits example indices into (train, test) with `test_size` test examples,
/// each class contributing in proportion to its size (largest remainders get
/// the leftover places; ties go to smaller classes indices).
/// Both lists are sorted, and the split depends only on the labels and `seed`.
///
/// # Panics
/// If `test_size > labels.len()`.
///
/// # Examples
/// ```
/// let labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
/// let (train, test) = csrs_data::stratified_split(&labels, 5, 7);
/// assert_eq!((train.len(), test.len()), (5, 5));
/// assert_eq!(test.iter().filter(|&&i| labels[i] == 0).count(), 2);
/// ```
pub fn stratified_split(labels: &[usize], test_size: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    assert!(test_size <= labels.len(), "test size {test_size} above {} examples", labels.len());
    let n_classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &y) in labels.iter().enumerate() {
        by_class[y].push(i);
    }
    // Quotas: floor of the proportional share, then the largest remainders.
    let total = labels.len();
    let mut quotas: Vec<usize> = by_class.iter().map(|c| c.len() * test_size / total).collect();
    let mut order: Vec<usize> = (0..n_classes).collect();
    order.sort_by_key(|&y| std::cmp::Reverse((by_class[y].len() * test_size) % total));
    let missing = test_size - quotas.iter().sum::<usize>();
    for &y in order.iter().take(missing) {
        quotas[y] += 1;
    }

    let mut rng = SplitMix64::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (members, quota) in by_class.iter_mut().zip(quotas) {
        shuffle(&mut rng, members);
        test.extend_from_slice(&members[..quota]);
        train.extend_from_slice(&members[quota..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_a_stratified_partition() {
        let labels: Vec<usize> = (0..1797).map(|i| (i * 7 + i / 13) % 10).collect();
        let (train, test) = stratified_split(&labels, 500, 0);
        assert_eq!((train.len(), test.len()), (1297, 500));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1797).collect::<Vec<_>>());
        for class in 0..10 {
            let size = labels.iter().filter(|&&y| y == class).count() as f64;
            let in_test = test.iter().filter(|&&i| labels[i] == class).count() as f64;
            assert!((in_test - size * 500.0 / 1797.0).abs() < 1.0, "class {class}: {in_test} of {size}");
        }
        assert_eq!(stratified_split(&labels, 500, 0), (train, test.clone()));
        assert_ne!(stratified_split(&labels, 500, 1).1, test);
    }
}
