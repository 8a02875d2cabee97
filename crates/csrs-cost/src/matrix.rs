//! The validated cost matrix and its constructors.

use std::fmt;

use crate::{CostError, CostRow, Result};

/// The most classes a cost matrix may have.
///
/// A matrix is stored dense, m² costs of 8 bytes each, so the count bounds
/// its memory: 25 000 classes are 5 GB (25 000² × 8 B). That admits
/// ImageNet's 1 000 classes and ImageNet-21k's 21 841 (3.8 GB), and leaves
/// room beside a model on one machine. Every count read from a file, a flag
/// or a caller is checked against it before anything is allocated, so that
/// a mistyped count is refused by name instead of aborting on an allocation
/// that cannot succeed.
pub const MAX_CLASSES: usize = 25_000;

/// Refuses a class count above [`MAX_CLASSES`].
pub(crate) fn check_class_count(n_classes: usize) -> Result<()> {
    if n_classes > MAX_CLASSES {
        return Err(CostError::TooManyClasses { found: n_classes, limit: MAX_CLASSES });
    }
    Ok(())
}

/// A validated m×m cost matrix, with optional class names.
///
/// `C[y][k]` is the harm of predicting class `k` when the truth is `y`:
/// finite, non-negative, and zero on the diagonal (SPEC §3).
#[derive(Debug, Clone, PartialEq)]
pub struct CostMatrix {
    n_classes: usize,
    /// Row-major, `n_classes * n_classes` entries.
    costs: Vec<f64>,
    names: Option<Vec<String>>,
}

impl CostMatrix {
    /// The standard matrix 1 − I: every mistake costs 1 (ordinary robustness).
    ///
    /// # Errors
    /// [`CostError::TooFewClasses`] when `n_classes < 2`,
    /// [`CostError::TooManyClasses`] above [`MAX_CLASSES`].
    ///
    /// # Examples
    /// ```
    /// let c = csrs_cost::CostMatrix::standard(3)?;
    /// assert_eq!(c.get(0, 1), 1.0);
    /// assert_eq!(c.get(2, 2), 0.0);
    /// # Ok::<(), csrs_cost::CostError>(())
    /// ```
    pub fn standard(n_classes: usize) -> Result<Self> {
        check_class_count(n_classes)?;
        Self::seedwise(n_classes, &(0..n_classes).collect::<Vec<_>>())
    }

    /// Every mistake on a seed class costs 1; nothing else costs anything.
    ///
    /// # Errors
    /// [`CostError::TooFewClasses`], [`CostError::TooManyClasses`], or
    /// [`CostError::ClassOutOfRange`] for a seed.
    ///
    /// # Examples
    /// ```
    /// // CIFAR-10 with the seed "cat" (class 3).
    /// let c = csrs_cost::CostMatrix::seedwise(10, &[3])?;
    /// assert_eq!(c.seeds(), vec![3]);
    /// assert_eq!(c.sensitive_set(3).len(), 9);
    /// assert!(c.sensitive_set(5).is_empty());
    /// # Ok::<(), csrs_cost::CostError>(())
    /// ```
    pub fn seedwise(n_classes: usize, seeds: &[usize]) -> Result<Self> {
        let mut matrix = Self::zeros(n_classes)?;
        for &seed in seeds {
            matrix.check_index(seed)?;
            for k in (0..n_classes).filter(|&k| k != seed) {
                matrix.set(seed, k, 1.0);
            }
        }
        Ok(matrix)
    }

    /// Each `(from, to)` pair costs 1: predicting `to` when the truth is `from`.
    ///
    /// # Errors
    /// [`CostError::TooFewClasses`], [`CostError::TooManyClasses`],
    /// [`CostError::ClassOutOfRange`], or [`CostError::DiagonalPair`] for a
    /// pair `(k, k)`.
    ///
    /// # Examples
    /// ```
    /// // cat -> {bird, deer, dog}
    /// let c = csrs_cost::CostMatrix::pairwise(10, &[(3, 2), (3, 4), (3, 5)])?;
    /// assert_eq!(c.sensitive_set(3), vec![2, 4, 5]);
    /// # Ok::<(), csrs_cost::CostError>(())
    /// ```
    pub fn pairwise(n_classes: usize, pairs: &[(usize, usize)]) -> Result<Self> {
        let mut matrix = Self::zeros(n_classes)?;
        for &(from, to) in pairs {
            matrix.check_index(from)?;
            matrix.check_index(to)?;
            if from == to {
                return Err(CostError::DiagonalPair(from));
            }
            matrix.set(from, to, 1.0);
        }
        Ok(matrix)
    }

    /// A matrix given in full, one row per true class.
    ///
    /// # Errors
    /// [`CostError`] naming the first row or entry that is not square,
    /// finite, non-negative, or zero on the diagonal, or
    /// [`CostError::TooManyClasses`].
    ///
    /// # Examples
    /// ```
    /// // Missing a malignant lesion is ten times worse than a false alarm.
    /// let c = csrs_cost::CostMatrix::from_rows(vec![vec![0.0, 1.0], vec![10.0, 0.0]])?;
    /// assert_eq!(c.cost_levels(1), vec![10.0]);
    /// assert!(csrs_cost::CostMatrix::from_rows(vec![vec![0.0, 1.0]]).is_err());
    /// # Ok::<(), csrs_cost::CostError>(())
    /// ```
    pub fn from_rows(rows: Vec<Vec<f64>>) -> Result<Self> {
        let n_classes = rows.len();
        let mut matrix = Self::zeros(n_classes)?;
        for (y, row) in rows.into_iter().enumerate() {
            if row.len() != n_classes {
                return Err(CostError::NotSquare { row: y, len: row.len(), expected: n_classes });
            }
            CostRow::new(&row, y)?;
            matrix.costs[y * n_classes..(y + 1) * n_classes].copy_from_slice(&row);
        }
        Ok(matrix)
    }

    /// Names the classes, in index order.
    ///
    /// # Errors
    /// [`CostError::NameCount`] if there are not exactly `n_classes` names,
    /// [`CostError::DuplicateName`] if two are equal.
    pub fn with_names(mut self, names: Vec<String>) -> Result<Self> {
        if names.len() != self.n_classes {
            return Err(CostError::NameCount { got: names.len(), expected: self.n_classes });
        }
        if let Some(dup) = first_duplicate(&names) {
            return Err(CostError::DuplicateName(dup.to_owned()));
        }
        self.names = Some(names);
        Ok(self)
    }

    fn zeros(n_classes: usize) -> Result<Self> {
        if n_classes < 2 {
            return Err(CostError::TooFewClasses(n_classes));
        }
        check_class_count(n_classes)?;
        Ok(CostMatrix { n_classes, costs: vec![0.0; n_classes * n_classes], names: None })
    }

    fn check_index(&self, index: usize) -> Result<()> {
        if index < self.n_classes {
            Ok(())
        } else {
            Err(CostError::ClassOutOfRange { index, n_classes: self.n_classes })
        }
    }

    fn set(&mut self, true_class: usize, predicted: usize, cost: f64) {
        self.costs[true_class * self.n_classes + predicted] = cost;
    }

    /// The number of classes m.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The class names, if the matrix has them.
    pub fn names(&self) -> Option<&[String]> {
        self.names.as_deref()
    }

    /// A class's name, or its index written out when the matrix has no names.
    pub fn class_label(&self, class_idx: usize) -> String {
        match &self.names {
            Some(names) => names[class_idx].clone(),
            None => class_idx.to_string(),
        }
    }

    /// C\[y\]\[k\].
    ///
    /// # Panics
    /// If either index is out of range.
    pub fn get(&self, true_class: usize, predicted: usize) -> f64 {
        assert!(predicted < self.n_classes, "class {predicted} out of range");
        self.costs[true_class * self.n_classes + predicted]
    }

    /// Row `y` of the matrix.
    ///
    /// # Panics
    /// If `true_class >= self.n_classes()`.
    pub fn row(&self, true_class: usize) -> CostRow<'_> {
        let costs = &self.costs[true_class * self.n_classes..(true_class + 1) * self.n_classes];
        CostRow::new(costs, true_class).expect("rows are validated when the matrix is built")
    }

    /// All rows, in class order.
    pub fn rows(&self) -> impl Iterator<Item = CostRow<'_>> {
        (0..self.n_classes).map(|y| self.row(y))
    }

    /// Ω_y, the classes whose prediction is harmful when the truth is `y`.
    pub fn sensitive_set(&self, true_class: usize) -> Vec<usize> {
        self.row(true_class).sensitive_set().collect()
    }

    /// Ω_y(t) = { k : C\[y\]\[k\] > t }.
    pub fn sensitive_set_above(&self, true_class: usize, level: f64) -> Vec<usize> {
        self.row(true_class).sensitive_above(level).collect()
    }

    /// The seed classes: those with at least one harmful mistake.
    pub fn seeds(&self) -> Vec<usize> {
        self.rows().filter(CostRow::is_seed).map(|row| row.true_class()).collect()
    }

    /// The distinct positive costs of row `y`, increasing.
    pub fn cost_levels(&self, true_class: usize) -> Vec<f64> {
        self.row(true_class).levels()
    }

    /// Whether every cost is 0 or 1.
    pub fn is_binary(&self) -> bool {
        self.costs.iter().all(|&c| c == 0.0 || c == 1.0)
    }

    /// The index of a named class.
    ///
    /// # Errors
    /// [`CostError::UnknownClass`] if no class has that name.
    pub fn class_index(&self, name: &str) -> Result<usize> {
        class_index(self.names.as_deref(), name)
    }
}

/// Looks `name` up in an optional list of class names.
pub(crate) fn class_index(names: Option<&[String]>, name: &str) -> Result<usize> {
    let unknown = |known: String| CostError::UnknownClass { name: name.to_owned(), known };
    match names {
        Some(names) => names.iter().position(|n| n == name).ok_or_else(|| unknown(names.join(", "))),
        None => Err(unknown("a class index (no class names are given)".to_owned())),
    }
}

fn first_duplicate(names: &[String]) -> Option<&str> {
    names.iter().enumerate().find(|(i, name)| names[..*i].contains(name)).map(|(_, name)| name.as_str())
}

/// An aligned table: true classes down, predicted classes across.
impl fmt::Display for CostMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<String> = (0..self.n_classes).map(|k| self.class_label(k)).collect();
        let cells: Vec<String> = self.costs.iter().map(|c| format!("{c}")).collect();
        let label_width = labels.iter().map(String::len).max().unwrap_or(0).max("true\\pred".len());
        let cell_width = labels.iter().chain(&cells).map(String::len).max().unwrap_or(1);
        write!(f, "{:<label_width$}", "true\\pred")?;
        for label in &labels {
            write!(f, " {label:>cell_width$}")?;
        }
        for (y, label) in labels.iter().enumerate() {
            write!(f, "\n{label:<label_width$}")?;
            for cell in &cells[y * self.n_classes..(y + 1) * self.n_classes] {
                write!(f, " {cell:>cell_width$}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_agree_with_spec_definitions() {
        let standard = CostMatrix::standard(4).unwrap();
        let full =
            CostMatrix::from_rows((0..4).map(|y| (0..4).map(|k| if y == k { 0.0 } else { 1.0 }).collect()).collect())
                .unwrap();
        assert_eq!(standard, full);
        assert!(standard.is_binary());
        assert_eq!(standard.seeds(), vec![0, 1, 2, 3]);

        let pairwise = CostMatrix::pairwise(10, &[(3, 5)]).unwrap();
        assert_eq!(pairwise.seeds(), vec![3]);
        assert_eq!(pairwise.sensitive_set(3), vec![5]);
        assert_eq!(pairwise.get(5, 3), 0.0);
    }

    #[test]
    fn rejects_bad_constructions() {
        assert!(matches!(CostMatrix::standard(1), Err(CostError::TooFewClasses(1))));
        assert!(matches!(
            CostMatrix::seedwise(10, &[10]),
            Err(CostError::ClassOutOfRange { index: 10, n_classes: 10 })
        ));
        assert!(matches!(CostMatrix::pairwise(10, &[(4, 4)]), Err(CostError::DiagonalPair(4))));
        let ragged = CostMatrix::from_rows(vec![vec![0.0, 1.0], vec![1.0, 0.0, 2.0]]);
        assert!(matches!(ragged, Err(CostError::NotSquare { row: 1, len: 3, expected: 2 })));
        let names = vec!["a".to_owned(), "a".to_owned()];
        let duplicate = CostMatrix::standard(2).unwrap().with_names(names);
        assert!(matches!(duplicate, Err(CostError::DuplicateName(n)) if n == "a"));
    }

    #[test]
    fn real_valued_levels_and_display() {
        let c = CostMatrix::from_rows(vec![vec![0.0, 1.0, 5.0], vec![0.0, 0.0, 0.0], vec![2.0, 2.0, 0.0]])
            .unwrap()
            .with_names(vec!["mole".into(), "nevus".into(), "melanoma".into()])
            .unwrap();
        assert!(!c.is_binary());
        assert_eq!(c.cost_levels(0), vec![1.0, 5.0]);
        assert_eq!(c.sensitive_set_above(0, 1.0), vec![2]);
        assert_eq!(c.seeds(), vec![0, 2]);
        assert_eq!(c.class_index("melanoma").unwrap(), 2);
        assert!(c.class_index("wart").unwrap_err().to_string().contains("mole, nevus, melanoma"));
        let shown = c.to_string();
        assert!(shown.starts_with("true\\pred     mole"), "{shown}");
        assert!(shown.lines().nth(3).unwrap().starts_with("melanoma"), "{shown}");
    }
}
