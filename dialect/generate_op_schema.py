#!/usr/bin/env python3
"""The nsl ops' schema, generated from ODS (the only place it is written).

Reads the records of dialect/NSLOps.td as `llvm-tblgen --dump-json` writes
them and generates, for every op of the nsl dialect:

  --reference FILE   the reference interpreter's op schemas (runtime/
                     reference/OpSchema.inc, committed: the runtime builds
                     without LLVM): graph.json name, operands (name, arity,
                     dtype), attributes (name, kind, allowed values), results;
  --export FILE      the graph.json export of each op (passes/, built at
                     build time): a TypeSwitch writing every operand and
                     attribute by its ODS name;
  --docs FILE        the op table of docs/graph-json.md (between the
                     `<!-- op table -->` markers, committed);
  --elementwise-reference FILE, --elementwise-lowering FILE
                     the elementwise ops' scalar formulas and derivatives
                     (NSLElementwise.td) as C++ on doubles for the reference
                     (committed) and as MLIR builder code for the lowering;
  --elementwise-import FILE
                     the TorchScript ops the importer maps to each row.

With --check, compares instead of writing and exits 1 naming every file that
differs (a ctest runs this, so committed files cannot go stale).
"""
import argparse
import difflib
import json
import re
import sys

import elementwise_formula as formula

BANNER = ("Generated from the nsl dialect's ODS by "
          "dialect/generate_op_schema.py; do not edit.")


class Op:
    """One nsl op as the generators see it."""

    def __init__(self, records, name):
        record = records[name]
        self.record = record
        self.cpp_class = name[len("NSL_"):]  # NSL_SimConv2dOp -> SimConv2dOp
        self.name = record["opName"]
        self.summary = record.get("summary") or ""
        self.operands, self.attributes = [], []
        for constraint, arg in record["arguments"]["args"]:
            definition = records[constraint["def"]]
            if is_attribute(definition):
                self.attributes.append(attribute(records, arg, definition))
            else:
                self.operands.append(operand(records, arg, definition))
        self.results = [operand(records, arg, records[c["def"]])
                        for c, arg in record["results"]["args"]]
        self.formula = record.get("nslFormula")
        self.derivatives = record.get("nslDerivatives")
        self.torch_ops = record.get("nslTorchOps") or []

    @property
    def is_vjp(self):
        return self.name.endswith("_vjp")


def is_attribute(definition):
    classes = definition["!superclasses"]
    return "Attr" in classes or "AttrConstraint" in classes


def camel(name):
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def operand(records, name, definition):
    arity = "Single"
    classes = definition["!superclasses"]
    if "Variadic" in classes:
        arity = "Variadic"
        definition = records[definition["baseType"]["def"]]
    elif "Optional" in classes:
        arity = "Optional"
        definition = records[definition["baseType"]["def"]]
    summary = definition.get("summary") or ""
    dtype = "I64" if "64-bit signless integer" in summary else "F32"
    return {"name": name, "arity": arity, "dtype": dtype}


def attribute(records, name, definition):
    """An attribute's graph.json kind: pair, integers, bool, number,
    integer or string (an enum, with its cases)."""
    optional = False
    while True:
        classes = definition["!superclasses"]
        if "OptionalAttr" in classes:
            optional = True
        if definition.get("baseAttr") and (
                "DefaultValuedAttr" in classes or "OptionalAttr" in classes or
                "ConfinedAttr" in classes):
            definition = records[definition["baseAttr"]["def"]]
            continue
        break
    record = definition["!name"]
    classes = definition["!superclasses"]
    result = {"name": name, "optional": optional, "allowed": []}
    if "EnumAttrInfo" in classes:
        result["kind"] = "String"
        result["allowed"] = [records[c["def"]]["str"]
                             for c in definition["enumerants"]]
        result["stringify"] = definition["symbolToStringFnName"]
    elif record == "NSL_PairAttr":
        result["kind"] = "Pair"
    elif record == "DenseI64ArrayAttr":
        result["kind"] = "Integers"
    elif record in ("UnitAttr", "BoolAttr"):
        result["kind"] = "Bool"
        result["unit"] = record == "UnitAttr"
    elif record in ("F32Attr", "F64Attr"):
        result["kind"] = "Number"
    elif record in ("I64Attr", "I32Attr"):
        result["kind"] = "Integer"
    else:
        sys.exit(f"generate_op_schema: attribute '{name}' has the ODS type "
                 f"'{record}', which graph.json has no kind for")
    return result


def nsl_ops(records):
    """The ops of the nsl dialect in definition order."""
    names = [name for name, record in records.items()
             if isinstance(record, dict) and
             "Op" in record.get("!superclasses", []) and
             record.get("opDialect", {}).get("def") == "NSL_Dialect"]
    files = ["NSLOps.td", "NSLElementwise.td", "NSLTrainingOps.td"]

    def position(name):
        # The last location is the def (or defm) line.
        where, line = records[name]["!locs"][-1].split(":")[:2]
        return (files.index(where) if where in files else len(files),
                int(line))
    return [Op(records, name) for name in sorted(names, key=position)]


def result_name(op, result):
    # A single result named `result` is the node's output (as graph.json and
    # the interpreter's messages have always called it).
    return "output" if result["name"] == "result" else result["name"]


def reference_schema(ops):
    lines = [f"// {BANNER}",
             "// One OpSchema per nsl op (runtime/reference/OpTable.cpp).",
             "// clang-format off"]
    for op in ops:
        operands = ", ".join(
            f'{{"{o["name"]}", Arity::{o["arity"]}, DType::{o["dtype"]}}}'
            for o in op.operands)
        attributes = ", ".join(
            f'{{"{a["name"]}", AttributeType::{a["kind"]}, {{'
            + ", ".join(f'"{v}"' for v in a["allowed"]) + "}}"
            for a in op.attributes)
        results = ", ".join(f'"{result_name(op, r)}"' for r in op.results
                            if not op.is_vjp)
        lines.append(f'{{"{op.name}", {{{operands}}}, {{{attributes}}}, '
                     f"{{{results}}}}},")
    lines.append("// clang-format on")
    return "\n".join(lines) + "\n"


def export_case(op):
    body = []
    for o in op.operands:
        call = "variadic" if o["arity"] == "Variadic" else "operand"
        body.append(f'node.{call}("{o["name"]}", o.get{camel(o["name"])}());')
    for a in op.attributes:
        getter = f'o.get{camel(a["name"])}'
        kind = a["kind"]
        if kind in ("Pair", "Integers"):
            value = f"node.ints(\"{a['name']}\", {getter}());"
        elif kind == "Bool":
            value = f"node.flag(\"{a['name']}\", bool({getter}()));"
        elif kind == "Number":
            value = f"node.real(\"{a['name']}\", {getter}Attr());"
        elif kind == "Integer":
            read = f"{getter}().value_or(0)" if a["optional"] else f"{getter}()"
            value = (f"node.integer(\"{a['name']}\", "
                     f"static_cast<int64_t>({read}));")
        else:
            value = (f"node.text(\"{a['name']}\", "
                     f"{a['stringify']}({getter}()));")
        body.append(value)
    body.append(f'return StringRef("{op.name}");')
    inner = "\n".join("        " + line for line in body)
    return f"    .Case([&]({op.cpp_class} o) {{\n{inner}\n    }})"


def graph_export(ops):
    cases = "\n".join(export_case(op) for op in ops)
    return (f"// {BANNER}\n"
            "// Every nsl op as a graph.json node (passes/ExportGraph.cpp):\n"
            "// operands and attributes by their ODS names.\n"
            "std::optional<StringRef> describeNSLOp(Operation *op, Node &node) {\n"
            "  return llvm::TypeSwitch<Operation *, std::optional<StringRef>>(op)\n"
            f"{cases}\n"
            "    .Default([](Operation *) { return std::nullopt; });\n"
            "}\n")


def docs_table(ops):
    def operand_text(o):
        suffix = {"Single": "", "Optional": "?", "Variadic": " [ids]"}
        dtype = " (i64)" if o["dtype"] == "I64" else ""
        return f'`{o["name"]}`{suffix[o["arity"]]}{dtype}'

    def attribute_text(a):
        kind = {"Pair": "pair", "Integers": "integers", "Bool": "bool",
                "Number": "number", "Integer": "integer", "String": "string"}
        text = f'`{a["name"]}` {kind[a["kind"]]}'
        if a["allowed"]:
            text += " (" + ", ".join(f"`{v}`" for v in a["allowed"]) + ")"
        return text

    lines = ["| op | operands | attributes | results |", "|---|---|---|---|",
             "| `constant` | — | `values`: flat row-major array of numbers "
             "(shape and dtype from its result) | output |"]
    for op in ops:
        operands = ", ".join(operand_text(o) for o in op.operands) or "—"
        attributes = ", ".join(attribute_text(a) for a in op.attributes) or "—"
        results = ("one gradient per `wrt` entry" if op.is_vjp else
                   ", ".join(result_name(op, r) +
                             ("?" if r["arity"] == "Optional" else "")
                             for r in op.results))
        lines.append(f"| `{op.name}` | {operands} | {attributes} | {results} |")
    return "\n".join(lines) + "\n"


def with_docs_table(text, table):
    begin, end = "<!-- op table: generated from ODS -->", "<!-- end of op table -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        sys.exit(f"generate_op_schema: the docs file has no '{begin}' ... "
                 f"'{end}' markers")
    return pattern.sub(lambda _: f"{begin}\n{table}{end}", text)


def emit(path, text, check, stale):
    if check:
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = ""
        if current != text:
            stale.append(path)
            sys.stderr.writelines(difflib.unified_diff(
                current.splitlines(True), text.splitlines(True), path,
                "regenerated"))
        return
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("records", help="llvm-tblgen --dump-json of NSLOps.td")
    parser.add_argument("--reference")
    parser.add_argument("--export")
    parser.add_argument("--docs")
    parser.add_argument("--elementwise-reference")
    parser.add_argument("--elementwise-lowering")
    parser.add_argument("--elementwise-import")
    parser.add_argument("--check", action="store_true",
                        help="compare with the files instead of writing them")
    args = parser.parse_args()
    with open(args.records, encoding="utf-8") as f:
        records = json.load(f)
    ops = nsl_ops(records)
    stale = []
    if args.reference:
        emit(args.reference, reference_schema(ops), args.check, stale)
    if args.export:
        emit(args.export, graph_export(ops), args.check, stale)
    if args.docs:
        with open(args.docs, encoding="utf-8") as f:
            docs = f.read()
        emit(args.docs, with_docs_table(docs, docs_table(ops)), args.check,
             stale)
    rows = [op for op in ops if op.formula]
    if args.elementwise_reference:
        emit(args.elementwise_reference,
             formula.reference_functions(rows, BANNER), args.check, stale)
    if args.elementwise_lowering:
        emit(args.elementwise_lowering,
             formula.lowering_functions(rows, BANNER), args.check, stale)
    if args.elementwise_import:
        emit(args.elementwise_import, formula.import_table(rows, BANNER),
             args.check, stale)
    if stale:
        print("generate_op_schema: out of date (regenerate with "
              "`ninja nsl-op-schema`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
