//! CERTIFY (Cohen et al.) and Certify-CS (SPEC §4), from class counts.

use std::iter;

use csrs_cost::CostRow;

use crate::smoothing::CostSensitiveAlpha;
use crate::{Alpha, BinomialSample, ClassCounts, Radius, Result, Smoothing, StatsError};

/// What the smoothed classifier is certified to do around one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Certificate {
    /// ĉ, the most frequent class of the selection draws: the reported
    /// prediction, whether or not it is certified.
    pub predicted: usize,
    /// The lower confidence bound p̲ on ĉ's probability: at level α in
    /// standard mode, α/2 in cost-sensitive mode.
    pub p_lower: f64,
    /// Whether the prediction itself is certified, and within which radius.
    pub standard: StandardCertificate,
    /// The cost-sensitive certificate; `None` when no mistake on the true
    /// class is harmful (standard mode).
    pub cost_sensitive: Option<CostSensitiveCertificate>,
}

impl Certificate {
    /// Whether the standard certificate abstains.
    pub fn abstains(&self) -> bool {
        self.standard == StandardCertificate::Abstain
    }
}

/// Cohen's certificate for the prediction ĉ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StandardCertificate {
    /// p̲ ≤ ½: the prediction is not certified at any radius.
    Abstain,
    /// g(x + δ) = ĉ for every ‖δ‖₂ < radius.
    Certified(Radius),
}

impl StandardCertificate {
    /// The radius, when certified.
    pub fn radius(self) -> Option<Radius> {
        match self {
            StandardCertificate::Abstain => None,
            StandardCertificate::Certified(radius) => Some(radius),
        }
    }
}

/// How far the input can move before a class of some harm level becomes
/// possible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HarmRadius {
    /// No guarantee: the prediction is already harmful at this level, or the
    /// counts are too weak.
    NotCertified,
    /// No class above this level can be output within the radius.
    Certified(Radius),
    /// No class is harmful above this level: it holds at every radius.
    Infinite,
}

impl HarmRadius {
    /// Whether this guarantee is at least as strong as `other`: not
    /// certified < any certified radius, by size < infinite.
    pub fn at_least(self, other: HarmRadius) -> bool {
        self.reach() >= other.reach()
    }

    /// The radius as a number: −∞ when not certified, ∞ when infinite, so
    /// that comparisons and sorting treat all three alike.
    pub fn reach(self) -> f64 {
        match self {
            HarmRadius::NotCertified => f64::NEG_INFINITY,
            HarmRadius::Certified(radius) => radius.get(),
            HarmRadius::Infinite => f64::INFINITY,
        }
    }

    /// Whether the guarantee holds at radius `epsilon` (r ≥ ε).
    pub fn covers(self, epsilon: f64) -> bool {
        match self {
            HarmRadius::NotCertified => false,
            HarmRadius::Certified(radius) => radius.get() >= epsilon,
            HarmRadius::Infinite => true,
        }
    }
}

/// The certified radius against all classes costing more than `level`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelRadius {
    /// The harm level t: 0 or one of the row's positive costs.
    pub level: f64,
    /// r(t): within it, no class k with C\[y\]\[k\] > t can be output.
    pub radius: HarmRadius,
}

/// Certify-CS's answer for an example whose true class has harmful mistakes.
///
/// Its curve always starts at level 0, rises strictly, never loses radius
/// from one level to the next, and ends with the one infinite radius (no
/// class costs more than the top level): [`CostSensitiveCertificate::new`]
/// refuses anything else, so every certificate in hand answers
/// [`certified_cost`](Self::certified_cost) for every radius.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSensitiveCertificate {
    /// r(t) at t = 0 and at each distinct positive cost of the row, in
    /// increasing order.
    levels: Vec<LevelRadius>,
    /// The harmful class drawn most often (ties: smaller index).
    strongest_harmful: usize,
}

/// Why a curve of level radii is not a cost-sensitive certificate.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum CurveError {
    /// No levels at all.
    #[error("it has no levels, expected at least level 0")]
    Empty,
    /// A level that is not a finite number, or a first level other than 0.
    #[error("level {level} at position {position}, expected {expected}")]
    Level {
        /// Its position in the curve, from 0.
        position: usize,
        /// The level found.
        level: f64,
        /// What was expected there.
        expected: &'static str,
    },
    /// A radius smaller than the one of the level below.
    #[error("the radius at level {level} is smaller than at the level below it, expected radii that never shrink")]
    Shrinks {
        /// The level whose radius is smaller.
        level: f64,
    },
    /// An infinite radius below the top level, or a finite one at the top.
    #[error("the radius at level {level} is {found}, expected an infinite radius at the top level only")]
    Infinity {
        /// The level in question.
        level: f64,
        /// "infinite" or "finite".
        found: &'static str,
    },
}

impl CostSensitiveCertificate {
    /// A certificate from its curve of level radii and its strongest
    /// harmful class (as a records file holds them).
    ///
    /// # Errors
    /// [`CurveError`] for the first point of the curve that breaks the
    /// invariants above.
    pub fn new(levels: Vec<LevelRadius>, strongest_harmful: usize) -> std::result::Result<Self, CurveError> {
        check_curve(&levels)?;
        Ok(CostSensitiveCertificate { levels, strongest_harmful })
    }

    /// r(t) at t = 0 and at each distinct positive cost of the row, in
    /// increasing order; the last is always [`HarmRadius::Infinite`].
    pub fn levels(&self) -> &[LevelRadius] {
        &self.levels
    }

    /// The harmful class drawn most often (ties: smaller index).
    pub fn strongest_harmful(&self) -> usize {
        self.strongest_harmful
    }

    /// The cost-sensitive radius r(0): within it, no harmful class at all can
    /// be output. [`certify`] never makes it infinite: at level 0 the
    /// sensitive set is not empty.
    pub fn radius(&self) -> HarmRadius {
        self.levels[0].radius
    }

    /// The certified cost at radius ε: the smallest level t with r(t) ≥ ε, a
    /// bound on the worst harm an attacker within ε can cause.
    pub fn certified_cost(&self, epsilon: f64) -> f64 {
        self.levels.iter().find(|level| level.radius.covers(epsilon)).expect("the top level is always infinite").level
    }
}

/// The invariants of a cost-sensitive certificate's curve.
fn check_curve(levels: &[LevelRadius]) -> std::result::Result<(), CurveError> {
    let last = levels.len().checked_sub(1).ok_or(CurveError::Empty)?;
    let mut below: Option<&LevelRadius> = None;
    for (position, point) in levels.iter().enumerate() {
        let level_error = |expected| CurveError::Level { position, level: point.level, expected };
        match below {
            None if point.level != 0.0 => return Err(level_error("0 first")),
            Some(below) if !(point.level.is_finite() && point.level > below.level) => {
                return Err(level_error("a finite number above the level before it"));
            }
            Some(below) if !point.radius.at_least(below.radius) => {
                return Err(CurveError::Shrinks { level: point.level });
            }
            _ => {}
        }
        let infinite = point.radius == HarmRadius::Infinite;
        if infinite != (position == last) {
            let found = if infinite { "infinite" } else { "finite" };
            return Err(CurveError::Infinity { level: point.level, found });
        }
        below = Some(point);
    }
    Ok(())
}

/// Which confidence bounds a certificate is made of, and by how much each
/// is widened.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bounds {
    kind: BoundKind,
    slack: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum BoundKind {
    #[default]
    FixedN,
    Anytime,
}

impl Bounds {
    /// Clopper–Pearson, for a number of draws fixed before drawing (Cohen
    /// et al.'s CERTIFY, the paper's Certify-CS).
    pub const FIXED_N: Bounds = Bounds { kind: BoundKind::FixedN, slack: 0.0 };

    /// Anytime-valid ([`BinomialSample::sequential_lower`]), for draws that
    /// come in rounds and stop on what the rounds show: the certificate
    /// holds at whatever count the drawing stopped, with the same α split.
    pub const ANYTIME: Bounds = Bounds { kind: BoundKind::Anytime, slack: 0.0 };

    /// These bounds with each moved out by `slack` more: for draws whose
    /// noise is within total variation distance `slack` of the smoothing
    /// distribution ([`GridGaussian::draw_error`](crate::GridGaussian::draw_error)),
    /// so that a class's probability under the drawn noise is within
    /// `slack` of its probability under the smoothing noise.
    ///
    /// # Panics
    /// Unless `slack` is finite and non-negative.
    pub fn widened(self, slack: f64) -> Bounds {
        assert!(slack.is_finite() && slack >= 0.0, "a bound cannot be widened by {slack}");
        Bounds { slack: self.slack + slack, ..self }
    }

    fn lower(self, sample: BinomialSample, alpha: Alpha) -> f64 {
        let lower = match self.kind {
            BoundKind::FixedN => sample.lower(alpha),
            BoundKind::Anytime => sample.sequential_lower(alpha),
        };
        (lower - self.slack).max(0.0)
    }

    fn upper(self, sample: BinomialSample, alpha: Alpha) -> f64 {
        let upper = match self.kind {
            BoundKind::FixedN => sample.upper(alpha),
            BoundKind::Anytime => sample.sequential_upper(alpha),
        };
        (upper + self.slack).min(1.0)
    }
}

/// Certifies one input from its class counts (SPEC §4).
///
/// ĉ is the top class of `selection`; `estimation` must be independent draws.
/// Without a cost row, or when the row has no positive cost, this is Cohen's
/// CERTIFY at level α.
/// Otherwise it is Certify-CS: every bound it uses holds together with
/// probability ≥ 1 − α (α/2 for p̲, α/(2L) for each of the L harm levels).
///
/// # Errors
/// [`StatsError::ClassCountMismatch`] when the selection counts or the cost
/// row do not have as many classes as the estimation counts.
///
/// # Examples
/// ```
/// use csrs_cost::CostRow;
/// use csrs_stats::{Alpha, ClassCounts, Smoothing, certify};
///
/// // Only 40% of the mass on the top class: Cohen abstains, but class 2
/// // (the only harmful one) is rare enough to rule out.
/// let selection = ClassCounts::new(vec![40, 35, 1, 24])?;
/// let estimation = ClassCounts::new(vec![4000, 3500, 100, 2400])?;
/// let costs = [0.0, 0.0, 1.0, 0.0];
/// let row = CostRow::new(&costs, 0).unwrap();
/// let cert = certify(&selection, &estimation, Some(&row), Smoothing::gaussian(0.5)?, Alpha::new(0.001)?)?;
/// assert!(cert.abstains());
/// assert!(cert.cost_sensitive.unwrap().radius().covers(0.4));
/// # Ok::<(), csrs_stats::StatsError>(())
/// ```
pub fn certify(
    selection: &ClassCounts,
    estimation: &ClassCounts,
    cost_row: Option<&CostRow<'_>>,
    smoothing: Smoothing,
    alpha: Alpha,
) -> Result<Certificate> {
    certify_with(selection, estimation, cost_row, smoothing, alpha, Bounds::FIXED_N)
}

/// [`certify`] with the chosen kind of confidence bounds: anytime-valid
/// ones when the number of estimation draws depended on the counts.
///
/// # Errors
/// As [`certify`].
pub fn certify_with(
    selection: &ClassCounts,
    estimation: &ClassCounts,
    cost_row: Option<&CostRow<'_>>,
    smoothing: Smoothing,
    alpha: Alpha,
    bounds: Bounds,
) -> Result<Certificate> {
    check_classes(selection, estimation, cost_row)?;
    let predicted = selection.top();
    let sample = estimation.sample(predicted);
    let Some(row) = cost_row.filter(|row| row.is_seed()) else {
        let p_lower = bounds.lower(sample, alpha);
        return Ok(Certificate { predicted, p_lower, standard: standard(p_lower, smoothing), cost_sensitive: None });
    };

    let positive_levels = row.levels();
    let split = CostSensitiveAlpha::new(alpha, positive_levels.len());
    let p_lower = bounds.lower(sample, split.top);
    let levels: Vec<_> = iter::once(0.0)
        .chain(positive_levels)
        .map(|level| {
            let radius = if row.cost(predicted) > level {
                HarmRadius::NotCertified
            } else {
                match strongest(estimation, row.sensitive_above(level)) {
                    None => HarmRadius::Infinite,
                    Some(class_idx) => {
                        let p_upper = bounds.upper(estimation.sample(class_idx), split.level).min(1.0 - p_lower);
                        Radius::new(smoothing.radius_against(p_lower, p_upper))
                            .map_or(HarmRadius::NotCertified, HarmRadius::Certified)
                    }
                }
            };
            LevelRadius { level, radius }
        })
        .collect();
    let strongest_harmful = strongest(estimation, row.sensitive_set()).expect("a seed row has a harmful class");
    debug_assert_eq!(check_curve(&levels), Ok(()));
    Ok(Certificate {
        predicted,
        p_lower,
        standard: standard(p_lower, smoothing),
        cost_sensitive: Some(CostSensitiveCertificate { levels, strongest_harmful }),
    })
}

/// The largest radii that more draws could still certify, from the other
/// end of each anytime-valid bound: with probability ≥ 1 − α no number of
/// draws certifies beyond them. Certification that draws in rounds stops
/// when these are close enough to what is certified, or below the radius it
/// is after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadiusCeilings {
    /// The standard radius σ Φ⁻¹(p̄) with p̄ the upper bound on ĉ's
    /// probability; 0 when p̄ ≤ ½.
    pub standard: f64,
    /// The cost-sensitive radius r(0) with p̄ for ĉ and p̲ for the harmful
    /// classes; 0 when ĉ is harmful, `None` in standard mode.
    pub cost_sensitive: Option<f64>,
}

/// The [`RadiusCeilings`] of these counts, at the α split of
/// [`certify_with`], from the other ends of `bounds`
/// ([`Bounds::ANYTIME`], possibly widened).
///
/// # Errors
/// As [`certify`].
pub fn radius_ceilings(
    selection: &ClassCounts,
    estimation: &ClassCounts,
    cost_row: Option<&CostRow<'_>>,
    smoothing: Smoothing,
    alpha: Alpha,
    bounds: Bounds,
) -> Result<RadiusCeilings> {
    check_classes(selection, estimation, cost_row)?;
    let predicted = selection.top();
    let top = estimation.sample(predicted);
    let radius = |p_upper: f64| if p_upper > 0.5 { smoothing.radius(p_upper) } else { 0.0 };
    let Some(row) = cost_row.filter(|row| row.is_seed()) else {
        return Ok(RadiusCeilings { standard: radius(bounds.upper(top, alpha)), cost_sensitive: None });
    };
    let split = CostSensitiveAlpha::new(alpha, row.levels().len());
    let p_upper = bounds.upper(top, split.top);
    let cost_sensitive = if row.cost(predicted) > 0.0 {
        0.0
    } else {
        let harmful = strongest(estimation, row.sensitive_set()).expect("a seed row has a harmful class");
        let p_harmful = bounds.lower(estimation.sample(harmful), split.level);
        smoothing.radius_against(p_upper, p_harmful).max(0.0)
    };
    Ok(RadiusCeilings { standard: radius(p_upper), cost_sensitive: Some(cost_sensitive) })
}

/// Fails unless the selection counts and the cost row have as many classes
/// as the estimation counts.
fn check_classes(selection: &ClassCounts, estimation: &ClassCounts, cost_row: Option<&CostRow<'_>>) -> Result<()> {
    let n_classes = estimation.n_classes();
    let mismatch = |what, got| StatsError::ClassCountMismatch { what, got, expected: n_classes };
    if selection.n_classes() != n_classes {
        return Err(mismatch("selection counts", selection.n_classes()));
    }
    if let Some(row) = cost_row.filter(|row| row.n_classes() != n_classes) {
        return Err(mismatch("cost row", row.n_classes()));
    }
    Ok(())
}

/// Cohen's rule: abstain unless p̲ > ½, else the radius of p̲.
fn standard(p_lower: f64, smoothing: Smoothing) -> StandardCertificate {
    if p_lower <= 0.5 {
        return StandardCertificate::Abstain;
    }
    Radius::new(smoothing.radius(p_lower)).map_or(StandardCertificate::Abstain, StandardCertificate::Certified)
}

/// The most frequent of `classes` (ties: the first), if any.
///
/// One upper bound on its count covers every class in the set: the
/// Clopper–Pearson upper bound grows with the count (SPEC §4).
fn strongest(counts: &ClassCounts, classes: impl Iterator<Item = usize>) -> Option<usize> {
    classes.fold(None, |best, k| match best {
        Some(b) if counts.count(b) >= counts.count(k) => Some(b),
        _ => Some(k),
    })
}
