package operators

import "strings"

// The comparison table of filter.apply: for each group of operators, the
// rule by which a kind of field compares with a kind of value. It renders
// the help of `conveyor info filter.apply` (and the README's copy, which a
// test keeps equal), and the table's test checks every cell against the
// filter, so the documentation cannot drift from what Match does. The
// filter does not read it: the test compares two independent statements.

// filterKind is a row (a kind of field) or a column (a kind of value) of the
// table, with the examples the test tries: JSON for a field, TOML for a
// value. A missing field has no example.
type filterKind struct {
	name     string
	examples []string
}

// The kinds of field, in table order.
var filterFields = []filterKind{
	{"number", []string{`150`, `-1.5`, `1e3`, `100`}},
	{"numeric string", []string{`"150"`, `" 1e2 "`, `"-1.5"`, `"150.0"`}},
	{`"true"/"false"`, []string{`"true"`, `"false"`}},
	{"other string", []string{`"n/a"`, `"pending"`, `"1,000"`, `""`, `"null"`, `"NaN"`, `"150x"`}},
	{"boolean", []string{`true`, `false`}},
	{"null", []string{`null`}},
	{"array", []string{`[150, "n/a", true]`, `["100", "false"]`, `[]`}},
	{"object", []string{`{"v": 150}`}},
	{"missing", nil},
}

// The kinds of value, in table order.
var filterValues = []filterKind{
	{"number", []string{`100`, `150`, `150.0`, `200`, `-1.5`, `1e3`}},
	{"numeric str", []string{`"100"`, `"150"`, `"150.0"`, `" 1e2 "`, `"1"`, `"0"`}},
	{`"true"/"false"`, []string{`"true"`, `"false"`}},
	{"other str", []string{`"n/a"`, `"abc"`, `"null"`, `""`, `"1,000"`, `"[]"`}},
	{"boolean", []string{`true`, `false`}},
}

// The rules a cell can hold, explained by filterLegend.
const (
	ruleNumber    = "number"
	ruleText      = "text"
	ruleBoolean   = "boolean"
	ruleNull      = "null"
	ruleSubstring = "substring"
	ruleElement   = "element"
	ruleRegex     = "regex"
	ruleMismatch  = "mismatch"
	ruleMissing   = "missing"
	ruleError     = "error"
)

// filterLegend explains each rule, in the order the help lists them.
var filterLegend = [][2]string{
	{ruleNumber, `both read as numbers (a string may hold one: "150", " 1e2 ") and compared`},
	{ruleText, `the strings compared byte by byte: == exactly ("150" is not "150.0"), > in byte order`},
	{ruleBoolean, `equal when both mean the same boolean (the strings "true" and "false" count)`},
	{ruleNull, `equal only to the string "null"; any other value is a mismatch`},
	{ruleSubstring, `passes when the field contains the value's text (15 as "15", true as "true")`},
	{ruleElement, `passes when an element of the array == the value, by the == table`},
	{ruleRegex, `passes when the value, an RE2 pattern, matches somewhere in the string ("^X" anchors it)`},
	{ruleMismatch, `the types do not compare: fails (!= passes), counted as type_mismatch`},
	{ruleMissing, `the record lacks the column: fails whatever the operator (!= too, exists aside), counted as missing`},
	{ruleError, `the config is rejected`},
}

// filterRules is one group of operators and its rules, indexed
// [field kind][value kind].
type filterRules struct {
	ops   []string
	rules [][]string
}

var filterTable = []filterRules{
	{[]string{">", ">=", "<", "<="}, [][]string{
		{ruleNumber, ruleNumber, ruleMismatch, ruleMismatch, ruleError},
		{ruleNumber, ruleNumber, ruleText, ruleText, ruleError},
		{ruleMismatch, ruleMismatch, ruleText, ruleText, ruleError},
		{ruleMismatch, ruleMismatch, ruleText, ruleText, ruleError},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleMissing, ruleMissing, ruleMissing, ruleMissing, ruleError},
	}},
	{[]string{"==", "!=", "in", "not in"}, [][]string{
		{ruleNumber, ruleNumber, ruleMismatch, ruleMismatch, ruleMismatch},
		{ruleNumber, ruleText, ruleText, ruleText, ruleMismatch},
		{ruleMismatch, ruleText, ruleText, ruleText, ruleBoolean},
		{ruleMismatch, ruleText, ruleText, ruleText, ruleMismatch},
		{ruleMismatch, ruleMismatch, ruleBoolean, ruleMismatch, ruleBoolean},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleNull, ruleMismatch},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch},
		{ruleMissing, ruleMissing, ruleMissing, ruleMissing, ruleMissing},
	}},
	{[]string{"contains", "not contains"}, [][]string{
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch},
		{ruleSubstring, ruleSubstring, ruleSubstring, ruleSubstring, ruleSubstring},
		{ruleSubstring, ruleSubstring, ruleSubstring, ruleSubstring, ruleSubstring},
		{ruleSubstring, ruleSubstring, ruleSubstring, ruleSubstring, ruleSubstring},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch},
		{ruleElement, ruleElement, ruleElement, ruleElement, ruleElement},
		{ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch, ruleMismatch},
		{ruleMissing, ruleMissing, ruleMissing, ruleMissing, ruleMissing},
	}},
	{[]string{"matches"}, [][]string{
		{ruleError, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleError, ruleRegex, ruleRegex, ruleRegex, ruleError},
		{ruleError, ruleRegex, ruleRegex, ruleRegex, ruleError},
		{ruleError, ruleRegex, ruleRegex, ruleRegex, ruleError},
		{ruleError, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleError, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleError, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleError, ruleMismatch, ruleMismatch, ruleMismatch, ruleError},
		{ruleError, ruleMissing, ruleMissing, ruleMissing, ruleError},
	}},
}

// filterHelp renders the table and its legend as `conveyor info` prints it.
func filterHelp() string {
	var rows [][]string
	for _, g := range filterTable {
		rows = append(rows, nil, append([]string{strings.Join(g.ops, " "), "value: " + filterValues[0].name}, names(filterValues[1:])...))
		for i, f := range filterFields {
			rows = append(rows, append([]string{"field: " + f.name}, g.rules[i]...))
		}
	}
	var b strings.Builder
	b.WriteString("How a field compares with value (= is ==, <> is !=; a.b reads a nested field):\n")
	writeColumns(&b, rows)
	b.WriteString("\n")
	legend := make([][]string, len(filterLegend))
	for i, l := range filterLegend {
		legend[i] = l[:]
	}
	writeColumns(&b, legend)
	b.WriteString("\n  != passes exactly when == fails, except on a missing column. in passes when the field ==\n" +
		"  any element of the list, and is a mismatch only when it mismatches every element. not in and\n" +
		"  not contains pass exactly when in and contains fail, except on a missing column. exists passes\n" +
		"  when the record has the column (whatever its value, null too) and not exists when it lacks it;\n" +
		"  they take no value and count nothing.\n")
	return b.String()
}

func names(kinds []filterKind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}

// writeColumns writes rows indented by two spaces, each column as wide as
// its widest cell plus two, without trailing spaces; a nil row is a blank
// line.
func writeColumns(b *strings.Builder, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range rows {
		line := " "
		for i, c := range r {
			line += " " + c
			if i < len(r)-1 {
				line += strings.Repeat(" ", width[i]+1-len(c))
			}
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}
