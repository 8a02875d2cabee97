//! Dropout, kept for training.
//!
//! The parser removes a Dropout node whose mask nobody reads, as inference
//! may. csrs keeps it: training a network read from a file applies its
//! dropout ([`Op::Dropout`](csrs_models::graph::Op::Dropout), nothing at
//! inference). So before parsing, each such node is given a mask output,
//! read by nothing, which the parser keeps the node for.

use std::collections::HashSet;

use onnx_ir::ModelProto;

/// Gives every Dropout node of `model`'s graph without a mask output one;
/// returns how many it changed.
pub(crate) fn keep(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else { return 0 };
    let mut taken: HashSet<String> = graph
        .node
        .iter()
        .flat_map(|node| node.input.iter().chain(&node.output))
        .chain(graph.initializer.iter().map(|tensor| &tensor.name))
        .chain(graph.input.iter().chain(&graph.output).map(|value| &value.name))
        .cloned()
        .collect();
    let mut kept = 0;
    for node in graph.node.iter_mut().filter(|node| node.op_type == "Dropout" && node.output.len() == 1) {
        let mut mask = format!("{}.mask", node.output[0]);
        while taken.contains(&mask) {
            mask.push('_');
        }
        taken.insert(mask.clone());
        node.output.push(mask);
        kept += 1;
    }
    kept
}
