package expr

// CompileSlow compiles src without the fast path, for tests that compare
// the two.
func CompileSlow(src string) (*Program, error) {
	p, err := Compile(src)
	if p != nil {
		p.fast = nil
	}
	return p, err
}

// Fast reports whether p took the fast path.
func Fast(p *Program) bool { return p.fast != nil }
