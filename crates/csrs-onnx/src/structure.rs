//! What a model must be before its nodes are read: an opset csrs reads,
//! at most [`MAX_NODES`] nodes and no subgraph, and every value defined
//! once, before it is read. onnxruntime and `onnx.checker` refuse models
//! that break these rules; the parser does not check all of them (a value
//! defined twice is read as if it were two), and its passes take time
//! quadratic in the number of nodes, which this check, linear, bounds
//! first.

use std::collections::HashSet;

use onnx_ir::ModelProto;

use crate::shown;

/// The most nodes a model may have: fifteen times those of a ResNet-110
/// export. The parser's passes take time quadratic in the number of nodes:
/// a chain of ReLUs at the limit takes it about 2 seconds.
pub const MAX_NODES: usize = 5_000;

/// The opsets of the standard domain read: from 13 (the operators' meaning
/// csrs implements) to 24, the newest the parser knows; the operators csrs
/// reads mean the same in all of them.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=24;

pub(crate) fn check(model: &ModelProto) -> Result<(), String> {
    let supported = || format!("supported: opsets {} to {}", OPSETS.start(), OPSETS.end());
    let standard: Vec<i64> =
        model.opset_import.iter().filter(|o| matches!(o.domain.as_str(), "" | "ai.onnx")).map(|o| o.version).collect();
    match standard.as_slice() {
        [] => return Err(format!("no opset of the standard ONNX domain; {}", supported())),
        [version] if OPSETS.contains(version) => {}
        [version] => return Err(format!("opset {version}; {}", supported())),
        _ => return Err("the standard ONNX domain imported twice".into()),
    }
    let graph = &model.graph;
    if graph.node.len() > MAX_NODES {
        return Err(format!("{} nodes, more than the limit of {MAX_NODES}", graph.node.len()));
    }
    let mut defined = HashSet::new();
    for tensor in &graph.initializer {
        if !defined.insert(tensor.name.as_str()) {
            return Err(format!("two weights named {}", shown(&tensor.name)));
        }
    }
    // An initializer may also be listed among the inputs (IR version 3).
    let mut inputs = HashSet::new();
    for input in &graph.input {
        if !inputs.insert(input.name.as_str()) {
            return Err(format!("two inputs named {}", shown(&input.name)));
        }
        defined.insert(input.name.as_str());
    }
    for node in &graph.node {
        let what = || format!("node {} ({})", shown(&node.name), shown(&node.op_type));
        // A subgraph is a graph of its own, which no limit above bounds.
        if node.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty()) {
            return Err(format!("{} holds a subgraph; csrs runs no control flow", what()));
        }
        // The parser drops this attribute and reads 0 as "copy".
        let zero_is_zero = node.attribute.iter().any(|a| a.name == "allowzero" && a.i != 0);
        if node.op_type == "Reshape" && zero_is_zero {
            return Err(format!("{}: allowzero = 1; supported: allowzero = 0 (PyTorch's)", what()));
        }
        for input in node.input.iter().filter(|i| !i.is_empty()) {
            if !defined.contains(input.as_str()) {
                return Err(format!("{} reads {}, which no earlier node computes", what(), shown(input)));
            }
        }
        for output in node.output.iter().filter(|o| !o.is_empty()) {
            if !defined.insert(output.as_str()) {
                return Err(format!("{} defines {}, which is defined already", what(), shown(output)));
            }
        }
    }
    if let Some(output) = graph.output.iter().find(|o| !defined.contains(o.name.as_str())) {
        return Err(format!("the output {} is not computed", shown(&output.name)));
    }
    Ok(())
}
