package operators

// TableKind, TableGroup and Table give the tests the comparison table that
// `conveyor info filter.apply` shows (filter_table.go).
type TableKind struct {
	Name     string
	Examples []string
}

// TableGroup is a group of operators and its rules [field][value].
type TableGroup struct {
	Ops   []string
	Rules [][]string
}

// Table returns the kinds of field and value and the rules of each group.
func Table() (fields, values []TableKind, groups []TableGroup) {
	kinds := func(ks []filterKind) []TableKind {
		out := make([]TableKind, len(ks))
		for i, k := range ks {
			out[i] = TableKind{k.name, k.examples}
		}
		return out
	}
	for _, g := range filterTable {
		groups = append(groups, TableGroup{g.ops, g.rules})
	}
	return kinds(filterFields), kinds(filterValues), groups
}

// Help is the rendered table.
func Help() string { return filterHelp() }
