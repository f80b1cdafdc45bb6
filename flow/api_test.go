package flow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The public packages expose no internal type: every exported identifier
// of flow, config, plugin and cli (functions, methods, variables, constants,
// exported struct fields, interface methods, type parameters) is checked
// for a type declared in an internal package. Embedders cannot name such
// a type, and a change to it would break them without notice.
func TestPublicAPIExposesNoInternalType(t *testing.T) {
	const mod = "github.com/conveyor-etl/conveyor/"
	pkgs := loadTypes(t, mod+"flow", mod+"config", mod+"plugin", mod+"cli")
	for _, path := range []string{"flow", "config", "plugin", "cli"} {
		if leaks := internalLeaks(pkgs[mod+path]); len(leaks) > 0 {
			t.Errorf("package %s exposes internal types:\n  %s", path, strings.Join(leaks, "\n  "))
		}
	}
}

// The check finds each way a fixture leaks an internal type, and flags
// neither an unexported field nor a clean type.
func TestInternalLeaksFindsEachLeak(t *testing.T) {
	const path = "github.com/conveyor-etl/conveyor/flow/testdata/leak"
	got := internalLeaks(loadTypes(t, path)[path])
	want := []string{
		"Clean.Get: internal/jsonio.Format",
		"Format: internal/jsonio.Format",
		"Formats: internal/jsonio.Format",
		"Holder.Exported: internal/jsonio.Reader",
		"Open: internal/jsonio.Format",
		"Option: internal/jsonio.Reader",
	}
	if !slices.Equal(got, want) {
		t.Errorf("leaks found:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// loadTypes type-checks paths from the compiler's export data, which `go
// list -export` builds (no source parsing, no dependency beyond the go
// command).
func loadTypes(t *testing.T, paths ...string) map[string]*types.Package {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-export", "-deps", "-json=ImportPath,Export"}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	exports := map[string]string{}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
	}
	imp := importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
	pkgs := map[string]*types.Package{}
	for _, p := range paths {
		pkg, err := imp.Import(p)
		if err != nil {
			t.Fatalf("import %s: %v", p, err)
		}
		pkgs[p] = pkg
	}
	return pkgs
}

// internalLeaks lists, sorted, "Ident: internal/pkg.Type" (Ident being
// Name, Type.Field or Type.Method) for every exported identifier of pkg
// whose type mentions a type of an internal package.
func internalLeaks(pkg *types.Package) []string {
	var leaks []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		w := &walker{home: pkg, seen: map[types.Type]bool{}, where: name, leaks: &leaks}
		if tn, ok := obj.(*types.TypeName); ok && !tn.IsAlias() {
			named := obj.Type().(*types.Named)
			w.walkDecl(named)
			for m := range named.Methods() {
				if m.Exported() {
					mw := &walker{home: pkg, seen: map[types.Type]bool{}, where: name + "." + m.Name(), leaks: &leaks}
					mw.walk(m.Type())
				}
			}
			continue
		}
		w.walk(obj.Type())
	}
	slices.Sort(leaks)
	return slices.Compact(leaks)
}

// walker visits the types an exported identifier's type is made of.
type walker struct {
	home  *types.Package
	seen  map[types.Type]bool
	where string // the identifier, for messages
	leaks *[]string
}

func isInternal(p *types.Package) bool {
	return p != nil && (strings.Contains(p.Path(), "/internal/") || strings.HasPrefix(p.Path(), "internal/"))
}

func (w *walker) report(tn *types.TypeName) {
	p := tn.Pkg().Path()
	*w.leaks = append(*w.leaks, fmt.Sprintf("%s: %s.%s", w.where, p[strings.Index(p, "internal/"):], tn.Name()))
}

// walkDecl walks the declaration of a named type of the home package:
// its exported fields or interface methods, or whatever it is made of.
func (w *walker) walkDecl(n *types.Named) {
	for i := range n.TypeParams().Len() {
		w.walk(n.TypeParams().At(i).Constraint())
	}
	w.walkUnder(n.Underlying())
}

func (w *walker) walkUnder(t types.Type) {
	switch u := t.(type) {
	case *types.Struct:
		for f := range u.Fields() {
			if f.Exported() {
				fw := *w
				fw.where = w.where + "." + f.Name()
				fw.walk(f.Type())
			}
		}
	case *types.Interface:
		for m := range u.ExplicitMethods() {
			if m.Exported() {
				mw := *w
				mw.where = w.where + "." + m.Name()
				mw.walk(m.Type())
			}
		}
		for e := range u.EmbeddedTypes() {
			w.walk(e)
		}
	default:
		w.walk(t)
	}
}

func (w *walker) walk(t types.Type) {
	if t == nil || w.seen[t] {
		return
	}
	w.seen[t] = true
	switch t := t.(type) {
	case *types.Alias:
		if isInternal(t.Obj().Pkg()) {
			w.report(t.Obj())
			return
		}
		w.walk(types.Unalias(t))
	case *types.Named:
		if isInternal(t.Obj().Pkg()) {
			w.report(t.Obj())
			return
		}
		for a := range t.TypeArgs().Types() {
			w.walk(a)
		}
		if t.Obj().Pkg() == w.home && !t.Obj().Exported() {
			w.walkDecl(t) // an unexported type reached from an exported one
		}
	case *types.Pointer:
		w.walk(t.Elem())
	case *types.Slice:
		w.walk(t.Elem())
	case *types.Array:
		w.walk(t.Elem())
	case *types.Chan:
		w.walk(t.Elem())
	case *types.Map:
		w.walk(t.Key())
		w.walk(t.Elem())
	case *types.Signature:
		if tp := t.TypeParams(); tp != nil {
			for i := range tp.Len() {
				w.walk(tp.At(i).Constraint())
			}
		}
		for v := range t.Params().Variables() {
			w.walk(v.Type())
		}
		for v := range t.Results().Variables() {
			w.walk(v.Type())
		}
	case *types.TypeParam:
		w.walk(t.Constraint())
	case *types.Struct, *types.Interface:
		w.walkUnder(t)
	}
}
