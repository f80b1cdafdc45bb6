package expr

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/conveyor-etl/conveyor/internal/compare"
	"github.com/conveyor-etl/conveyor/internal/record"
)

// Error is a compile error: what is wrong, and where in the expression.
type Error struct {
	Line   int // 1-based; 1 for a one-line expression
	Column int // 1-based, in characters
	Msg    string
}

func (e *Error) Error() string {
	if e.Line > 1 {
		return fmt.Sprintf("line %d, column %d of the expression: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("column %d of the expression: %s", e.Column, e.Msg)
}

// maxLen bounds an expression's length: a config value, not a program.
const maxLen = 64 << 10

// Compile compiles an expression over a record's fields (see the package
// doc). The error, when there is one, is an *Error.
func Compile(src string) (p *Program, err error) {
	defer func() { // expr-lang's parser is fuzzed, but a config must never crash a run
		if r := recover(); r != nil {
			p, err = nil, &Error{Line: 1, Column: 1, Msg: fmt.Sprintf("cannot compile: %v", r)}
		}
	}()
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Line: 1, Column: 1, Msg: "the expression is empty"}
	}
	if len(src) > maxLen {
		return nil, &Error{Line: 1, Column: 1, Msg: fmt.Sprintf("the expression is %d bytes long, over %d", len(src), maxLen)}
	}
	cfg := newConfig()
	tree, err := parser.ParseWithConfig(src, cfg)
	if err != nil {
		return nil, wrapError(err, src)
	}
	rw := &rewriter{src: src, fields: map[string]bool{}, lets: map[string]bool{}}
	rw.findLets(tree.Node)
	rw.rewrite(&tree.Node)
	if rw.err != nil {
		return nil, rw.err
	}
	if _, err := checker.Check(tree, cfg); err != nil {
		return nil, wrapError(err, src)
	}
	prog, err := compiler.Compile(tree, cfg)
	if err != nil {
		return nil, wrapError(err, src)
	}
	p = &Program{src: src, prog: prog}
	for _, name := range rw.order {
		p.fields = append(p.fields, field{name: name, path: record.CompilePath(name)})
	}
	p.fast = fastPath(tree.Node, p.fields)
	p.pool.New = func() any { return p.newEvaluator() }
	return p, nil
}

// newConfig is the compile configuration: a map environment (fields by
// name), the functions of funcs.go in place of expr-lang's builtins of the
// same name.
func newConfig() *conf.Config {
	cfg := conf.CreateNew()
	opts := []expr.Option{expr.Env(map[string]any{}), expr.AllowUndefinedVariables()}
	for name, fn := range functions {
		opts = append(opts, expr.Function(name, fn))
	}
	for _, o := range opts {
		o(cfg)
	}
	for name := range cfg.Disabled {
		delete(cfg.Builtins, name)
	}
	cfg.Check()
	return cfg
}

func wrapError(err error, src string) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Line == 0 { // not bound to the source yet
			fe = fe.Bind(file.NewSource(src))
		}
		return &Error{Line: max(fe.Line, 1), Column: fe.Column + 1, Msg: fe.Message}
	}
	return &Error{Line: 1, Column: 1, Msg: err.Error()}
}

// rewriter turns an expression's AST into calls of funcs.go: each field
// reference into one variable named by its path, each comparison,
// arithmetic and logical operator into the function that applies
// Conveyor's rules and records the outcome in the evaluation's state.
type rewriter struct {
	src    string
	fields map[string]bool
	order  []string        // field paths, in the order first met
	lets   map[string]bool // names that `let` declares: not fields
	err    *Error
}

// stateVar is the variable holding the evaluation's *state: no field can be
// named so (a field name is an identifier or a path of them).
const stateVar = "$state"

func (rw *rewriter) fail(n ast.Node, format string, args ...any) {
	if rw.err != nil {
		return
	}
	e := &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	e = e.Bind(file.NewSource(rw.src))
	rw.err = &Error{Line: max(e.Line, 1), Column: e.Column + 1, Msg: e.Message}
}

func (rw *rewriter) findLets(n ast.Node) {
	ast.Find(n, func(n ast.Node) bool {
		if v, ok := n.(*ast.VariableDeclaratorNode); ok {
			rw.lets[v.Name] = true
		}
		return false
	})
}

// path returns the field path n reads, when it is an identifier that is not
// a let variable, or a member of one by a constant name or index.
func (rw *rewriter) path(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		if rw.lets[x.Value] || x.Value == stateVar || strings.HasPrefix(x.Value, "$") {
			return "", false
		}
		return x.Value, true
	case *ast.MemberNode:
		if x.Method {
			return "", false
		}
		base, ok := rw.path(x.Node)
		if !ok {
			return "", false
		}
		switch p := x.Property.(type) {
		case *ast.StringNode:
			if p.Value == "" || strings.Contains(p.Value, ".") {
				return "", false // not addressable as a path: read by expr-lang
			}
			return base + "." + p.Value, true
		case *ast.IntegerNode:
			if p.Value < 0 {
				return "", false
			}
			return base + "." + strconv.Itoa(p.Value), true
		}
	}
	return "", false
}

func (rw *rewriter) useField(name string, at ast.Node) ast.Node {
	if !rw.fields[name] {
		rw.fields[name] = true
		rw.order = append(rw.order, name)
	}
	id := &ast.IdentifierNode{Value: name}
	id.SetLocation(at.Location())
	return id
}

// call makes a call of the function name with the state first.
func call(name string, at ast.Node, args ...ast.Node) ast.Node {
	c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: append([]ast.Node{&ast.IdentifierNode{Value: stateVar}}, args...)}
	c.SetLocation(at.Location())
	return c
}

// mirror is the comparison that holds with its operands swapped.
var mirror = map[string]string{"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

var comparisons = map[string]string{"==": fnEq, "!=": fnNe, "<": fnLt, "<=": fnLe, ">": fnGt, ">=": fnGe,
	"in": fnIn, "contains": fnContains, "startsWith": fnStartsWith, "endsWith": fnEndsWith, "matches": fnMatches}

var negated = map[string]string{"in": fnNotIn, "contains": fnNotContains, "startsWith": fnNotStartsWith,
	"endsWith": fnNotEndsWith, "matches": fnNotMatches}

var arithmetic = map[string]string{"+": fnAdd, "-": fnSub, "*": fnMul, "/": fnDiv, "%": fnMod, "**": fnPow, "^": fnPow}

func (rw *rewriter) rewrite(np *ast.Node) {
	if p, ok := rw.path(*np); ok {
		*np = rw.useField(p, *np)
		return
	}
	switch n := (*np).(type) {
	case *ast.CallNode:
		rw.rewriteCall(np, n)
		return
	case *ast.BinaryNode:
		rw.rewriteBinary(np, n)
		return
	case *ast.UnaryNode:
		rw.rewriteUnary(np, n)
		return
	case *ast.ConditionalNode:
		rw.rewrite(&n.Cond)
		rw.rewrite(&n.Exp1)
		rw.rewrite(&n.Exp2)
		n.Cond = rw.truthy(n.Cond)
		return
	}
	rw.children(*np)
}

// children rewrites the nodes below n that the cases of rewrite do not.
func (rw *rewriter) children(n ast.Node) {
	switch n := n.(type) {
	case *ast.MemberNode:
		rw.rewrite(&n.Node)
		rw.rewrite(&n.Property)
	case *ast.ChainNode:
		rw.rewrite(&n.Node)
	case *ast.SliceNode:
		rw.rewrite(&n.Node)
		if n.From != nil {
			rw.rewrite(&n.From)
		}
		if n.To != nil {
			rw.rewrite(&n.To)
		}
	case *ast.BuiltinNode:
		for i := range n.Arguments {
			rw.rewrite(&n.Arguments[i])
		}
	case *ast.PredicateNode:
		rw.rewrite(&n.Node)
	case *ast.VariableDeclaratorNode:
		rw.rewrite(&n.Value)
		rw.rewrite(&n.Expr)
	case *ast.SequenceNode:
		for i := range n.Nodes {
			rw.rewrite(&n.Nodes[i])
		}
	case *ast.ArrayNode:
		for i := range n.Nodes {
			rw.rewrite(&n.Nodes[i])
		}
	case *ast.MapNode:
		for i := range n.Pairs {
			rw.rewrite(&n.Pairs[i])
		}
	case *ast.PairNode:
		rw.rewrite(&n.Value) // a key is a name, not a field
	}
}

func (rw *rewriter) rewriteCall(np *ast.Node, n *ast.CallNode) {
	for i := range n.Arguments {
		rw.rewrite(&n.Arguments[i])
	}
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		rw.rewrite(&n.Callee)
		return
	}
	ar, mine := arity[id.Value]
	if !mine {
		rw.fail(n, "unknown function %s (the functions: %s, and expr-lang's builtins)", id.Value, strings.Join(userFuncs(), " "))
		return
	}
	if len(n.Arguments) < ar.min || ar.max >= 0 && len(n.Arguments) > ar.max {
		rw.fail(n, "%s takes %s, got %d", id.Value, ar, len(n.Arguments))
		return
	}
	*np = call(id.Value, n, n.Arguments...)
}

// userFuncs lists the functions of funcs.go a user may call, sorted.
func userFuncs() []string {
	names := slices.Collect(maps.Keys(arity))
	slices.Sort(names)
	return names
}

func (rw *rewriter) rewriteBinary(np *ast.Node, n *ast.BinaryNode) {
	rw.rewrite(&n.Left)
	rw.rewrite(&n.Right)
	op := n.Operator
	switch {
	case op == "and" || op == "&&" || op == "or" || op == "||":
		n.Left, n.Right = rw.truthy(n.Left), rw.truthy(n.Right)
	case op == "??":
		*np = call(fnCoalesce, n, n.Left, n.Right)
	case arithmetic[op] != "":
		*np = call(arithmetic[op], n, n.Left, n.Right)
	case comparisons[op] != "":
		*np = rw.comparison(n, comparisons[op])
	}
}

// comparison makes the call of fn for n, the field side first and a
// constant other side prepared once.
func (rw *rewriter) comparison(n *ast.BinaryNode, fn string) ast.Node {
	left, right := n.Left, n.Right
	if m, ok := mirror[n.Operator]; ok && isLiteral(left) && !isLiteral(right) {
		left, right = right, left
		fn = comparisons[m]
	}
	switch {
	case n.Operator == "matches":
		if s, ok := right.(*ast.StringNode); ok {
			re, err := regexp.Compile(s.Value)
			if err != nil {
				rw.fail(right, "bad regular expression (RE2 syntax): %v", err)
				return n
			}
			right = constant(re, right)
		}
	case isLiteral(right):
		o := compare.NewOperand(literal(right))
		right = constant(&o, right)
	case isLiteralList(right):
		nodes := right.(*ast.ArrayNode).Nodes
		list := make([]compare.Operand, len(nodes))
		for i, el := range nodes {
			list[i] = compare.NewOperand(literal(el))
		}
		right = constant(operands(list), right)
	}
	return call(fn, n, left, right)
}

func (rw *rewriter) rewriteUnary(np *ast.Node, n *ast.UnaryNode) {
	if b, ok := n.Node.(*ast.BinaryNode); ok && n.Operator == "not" && negated[b.Operator] != "" {
		rw.rewrite(&b.Left)
		rw.rewrite(&b.Right)
		*np = rw.comparison(b, negated[b.Operator]) // x not in y: one comparison, false on a missing x
		return
	}
	rw.rewrite(&n.Node)
	switch n.Operator {
	case "!", "not":
		n.Node = rw.truthy(n.Node)
	case "-":
		*np = call(fnNeg, n, n.Node)
	case "+":
		*np = call(fnMul, n, n.Node, &ast.IntegerNode{Value: 1})
	}
}

// truthy wraps n in the function that reads it as a condition, unless it
// is one already.
func (rw *rewriter) truthy(n ast.Node) ast.Node {
	switch x := n.(type) {
	case *ast.BoolNode:
		return n
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			return n
		}
	case *ast.BinaryNode:
		switch x.Operator {
		case "and", "&&", "or", "||":
			return n
		}
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok && boolFunc(id.Value) {
			return n
		}
	}
	return call(fnTruthy, n, n)
}

func constant(v any, at ast.Node) ast.Node {
	c := &ast.ConstantNode{Value: v}
	c.SetLocation(at.Location())
	return c
}

func isLiteral(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
		return true
	}
	return false
}

func isLiteralList(n ast.Node) bool {
	a, ok := n.(*ast.ArrayNode)
	if !ok {
		return false
	}
	for _, el := range a.Nodes {
		if !isLiteral(el) {
			return false
		}
	}
	return true
}

func literal(n ast.Node) any {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value
	case *ast.IntegerNode:
		return x.Value
	case *ast.FloatNode:
		return x.Value
	case *ast.BoolNode:
		return x.Value
	}
	return nil
}

// Program is a compiled expression. It is safe for concurrent use.
type Program struct {
	src    string
	prog   *vm.Program
	fields []field
	pool   pool
	fast   *fastCmp // the whole expression is one comparison of a field with a constant
}

// fastCmp is an expression that is one comparison of a field with a
// constant (amount >= 100): Eval calls the comparison without the VM.
type fastCmp struct {
	cmp binFn
	c   any
}

// fastPath returns the fastCmp of root, a rewritten tree, or nil.
func fastPath(root ast.Node, fields []field) *fastCmp {
	c, ok := root.(*ast.CallNode)
	if !ok || len(c.Arguments) != 3 || len(fields) != 1 {
		return nil
	}
	id, _ := c.Callee.(*ast.IdentifierNode)
	f, _ := c.Arguments[1].(*ast.IdentifierNode)
	k, _ := c.Arguments[2].(*ast.ConstantNode)
	if id == nil || f == nil || k == nil || f.Value != fields[0].name || id.Value == fnTruthy {
		return nil
	}
	cmp, ok := comparators[id.Value]
	if !ok {
		return nil
	}
	return &fastCmp{cmp: cmp, c: k.Value}
}

type field struct {
	name string
	path record.Path
}

// String returns the expression as written.
func (p *Program) String() string { return p.src }

// Fields lists the record paths the expression reads ("amount",
// "address.country"), in the order it names them first.
func (p *Program) Fields() []string {
	out := make([]string, len(p.fields))
	for i, f := range p.fields {
		out[i] = f.name
	}
	return out
}
