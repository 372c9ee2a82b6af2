"""The elementwise ops' formulas (NSLElementwise.td) as code.

A formula is a Python expression over the op's operands (`x`, or `x` and
`y`), its result `out` (derivatives only), numbers, `pi`, the operators
+ - * / ** and comparisons, and the functions below. The same expression
becomes C++ on doubles (the reference) and MLIR builder calls on f32 scalars
(the lowering, through codegen/common/ScalarBuilder.h).
"""
import ast
import sys

# name: (arity, C++ on doubles, ScalarBuilder method)
FUNCTIONS = {
    "exp": (1, "std::exp({0})", "exp"),
    "log": (1, "std::log({0})", "log"),
    "sqrt": (1, "std::sqrt({0})", "sqrt"),
    "rsqrt": (1, "(1.0 / std::sqrt({0}))", "rsqrt"),
    "tanh": (1, "std::tanh({0})", "tanh"),
    "erf": (1, "std::erf({0})", "erf"),
    "abs": (1, "std::fabs({0})", "abs"),
    # NaN-propagating, as torch.minimum and torch.maximum.
    "min": (2, "(std::isnan({0}) || std::isnan({1}) ? NAN : std::fmin({0}, {1}))",
            "min"),
    "max": (2, "(std::isnan({0}) || std::isnan({1}) ? NAN : std::fmax({0}, {1}))",
            "max"),
    "select": (3, "({0} ? {1} : {2})", "select"),
}
OPERATORS = {ast.Add: ("+", "add"), ast.Sub: ("-", "sub"),
             ast.Mult: ("*", "mul"), ast.Div: ("/", "div"),
             ast.Pow: (None, "pow")}
COMPARISONS = {ast.Lt: ("<", "lt"), ast.LtE: ("<=", "le"),
               ast.Gt: (">", "gt"), ast.GtE: (">=", "ge"),
               ast.Eq: ("==", "eq")}


def parse(text, variables, where):
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as error:
        sys.exit(f"{where}: malformed formula '{text}': {error.msg}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in variables + ["pi"]:
            if not any(isinstance(p, ast.Call) and p.func is node
                       for p in ast.walk(tree)):
                sys.exit(f"{where}: formula '{text}' uses '{node.id}'; it "
                         f"may use {', '.join(variables)} and pi")
    return tree


def to_cpp(node, where):
    """C++ on doubles."""
    if isinstance(node, ast.Constant):
        return repr(float(node.value))
    if isinstance(node, ast.Name):
        return "3.141592653589793" if node.id == "pi" else node.id
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return f"(-{to_cpp(node.operand, where)})"
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        a, b = to_cpp(node.left, where), to_cpp(node.right, where)
        symbol = OPERATORS[type(node.op)][0]
        return f"std::pow({a}, {b})" if symbol is None else f"({a} {symbol} {b})"
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and \
            type(node.ops[0]) in COMPARISONS:
        symbol = COMPARISONS[type(node.ops[0])][0]
        return (f"({to_cpp(node.left, where)} {symbol} "
                f"{to_cpp(node.comparators[0], where)})")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in FUNCTIONS:
        arity, pattern, _ = FUNCTIONS[node.func.id]
        if len(node.args) != arity:
            sys.exit(f"{where}: {node.func.id} takes {arity} arguments")
        return pattern.format(*(to_cpp(a, where) for a in node.args))
    sys.exit(f"{where}: unsupported expression '{ast.unparse(node)}'")


def to_builder(node, where):
    """Calls on a ScalarBuilder `e` over f32 (and i1) scalars."""
    if isinstance(node, ast.Constant):
        return f"e.constant({float(node.value)!r})"
    if isinstance(node, ast.Name):
        return "e.constant(3.141592653589793)" if node.id == "pi" else node.id
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return f"e.neg({to_builder(node.operand, where)})"
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        method = OPERATORS[type(node.op)][1]
        return (f"e.{method}({to_builder(node.left, where)}, "
                f"{to_builder(node.right, where)})")
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and \
            type(node.ops[0]) in COMPARISONS:
        method = COMPARISONS[type(node.ops[0])][1]
        return (f"e.{method}({to_builder(node.left, where)}, "
                f"{to_builder(node.comparators[0], where)})")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in FUNCTIONS:
        method = FUNCTIONS[node.func.id][2]
        args = ", ".join(to_builder(a, where) for a in node.args)
        return f"e.{method}({args})"
    sys.exit(f"{where}: unsupported expression '{ast.unparse(node)}'")


def operand_names(op):
    return ["x"] if len(op.operands) == 1 else ["x", "y"]


def reference_functions(rows, banner):
    """ElementwiseRow entries for runtime/reference (C++ on doubles)."""
    lines = [f"// {banner}",
             "// One ElementwiseRow per elementwise op (NSLElementwise.td):",
             "// its formula and the derivative by each operand.",
             "// clang-format off"]
    for op in rows:
        names = operand_names(op)
        where = f"nsl.{op.name}"
        unpack = " ".join(f"const double {n} = a[{i}]; (void){n};"
                          for i, n in enumerate(names))
        body = to_cpp(parse(op.formula, names, where), where)
        derivatives = []
        for i, text in enumerate(op.derivatives):
            expr = to_cpp(parse(text, names + ["out"], where), where)
            derivatives.append(
                f"[](const double *a, double out) {{ {unpack} (void)out; "
                f"return static_cast<double>({expr}); }}")
        lines.append(f'{{"{op.name}", {len(names)},')
        lines.append(f"  [](const double *a) {{ {unpack} "
                     f"return static_cast<double>({body}); }},")
        lines.append("  {" + ",\n   ".join(derivatives) + "}},")
    lines.append("// clang-format on")
    return "\n".join(lines) + "\n"


def lowering_functions(rows, banner):
    """The lowering's scalar bodies (codegen/common, built at build time)."""
    lines = [f"// {banner}",
             "// The scalar formula and derivatives of every elementwise op",
             "// (NSLElementwise.td) on a ScalarBuilder.",
             "namespace {"]
    cases = []
    for op in rows:
        names = operand_names(op)
        where = f"nsl.{op.name}"
        params = ", ".join(f"Value {n}" for n in names)
        lines.append(f"[[maybe_unused]] Value {op.name}Formula(ScalarBuilder &e, {params}) {{")
        lines.append(f"  return {to_builder(parse(op.formula, names, where), where)};")
        lines.append("}")
        for i, text in enumerate(op.derivatives):
            expr = to_builder(parse(text, names + ["out"], where), where)
            lines.append(f"[[maybe_unused]] Value {op.name}Derivative{i}(ScalarBuilder &e, "
                         f"{params}, Value out) {{")
            lines.append(f"  return {expr};")
            lines.append("}")
        args = ", ".join(f"v[{i}]" for i in range(len(names)))
        derivative_calls = ", ".join(
            f"[](ScalarBuilder &e, ValueRange v, Value out) {{ return "
            f"{op.name}Derivative{i}(e, {args}, out); }}"
            for i in range(len(op.derivatives)))
        cases.append(
            f'  {{"{op.name}", [](ScalarBuilder &e, ValueRange v) {{ return '
            f"{op.name}Formula(e, {args}); }}, {{{derivative_calls}}}}},")
    lines.append("} // namespace")
    lines.append("")
    lines.append("/// The formulas by op name (the mnemonic).")
    lines.append("const std::vector<ElementwiseFormula> &elementwiseFormulas() {")
    lines.append("  static const std::vector<ElementwiseFormula> formulas = {")
    lines.extend(cases)
    lines.append("  };")
    lines.append("  return formulas;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def torch_op(text, arity, where):
    """("aten::rsub", ["other", "self"]) from "aten::rsub(other, self)"; the
    arguments default to `self` (and `other`)."""
    name, _, rest = text.partition("(")
    names = ([n.strip() for n in rest.rstrip(")").split(",")] if rest
             else ["self", "other"][:arity])
    if len(names) != arity or not all(n.isidentifier() for n in names):
        sys.exit(f"{where}: torch op '{text}' must name {arity} argument(s)")
    return name, names


def import_table(rows, banner):
    """(TorchScript op, its arguments as x and y, nsl op) for the importer
    (built at build time)."""
    lines = [f"// {banner}",
             "// The TorchScript ops each elementwise row imports from, and the",
             "// schema arguments that become its `x` (and `y`).",
             "struct ElementwiseTorchOp {",
             "  const char *torch, *nsl;",
             "  int arity;",
             "  const char *arguments[2];",
             "};",
             "static const ElementwiseTorchOp elementwiseTorchOps[] = {"]
    for op in rows:
        for text in op.torch_ops:
            name, names = torch_op(text, len(op.operands), f"nsl.{op.name}")
            arguments = ", ".join(f'"{n}"' for n in names + [""][:2 - len(names)])
            lines.append(f'    {{"{name}", "nsl.{op.name}", {len(op.operands)}, '
                         f"{{{arguments}}}}},")
    lines.append("};")
    return "\n".join(lines) + "\n"
