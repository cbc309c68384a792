package contenttest

import (
	"os"
	"os/exec"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const modulePath = "github.com/ipmifleet/ipmi_fleet_exporter"

// designRow is one row of docs/design.md's layers table.
type designRow struct {
	pkg     string // import path, or a subtree prefix for pkg/...
	subtree bool
	imports string // the imports column as written
}

// designRows reads the layers table of docs/design.md.
func designRows(t *testing.T) []designRow {
	t.Helper()
	data, err := os.ReadFile("../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(data), "| package | job | imports |")
	if !ok {
		t.Fatal("docs/design.md has no layers table (| package | job | imports |)")
	}
	first := regexp.MustCompile("^`([^`]+)`")
	var rows []designRow
	for _, line := range strings.Split(table, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("design.md layers row %q: want 3 cells", line)
		}
		m := first.FindStringSubmatch(strings.TrimSpace(cells[0]))
		if m == nil {
			t.Fatalf("design.md layers row %q: the package is not in backquotes", line)
		}
		name := strings.Replace(m[1], "M", modulePath, 1)
		row := designRow{pkg: name, imports: strings.TrimSpace(cells[2])}
		if p, ok := strings.CutSuffix(name, "/..."); ok {
			row.pkg, row.subtree = p, true
		}
		rows = append(rows, row)
	}
	if len(rows) < 10 {
		t.Fatalf("design.md layers table has %d rows", len(rows))
	}
	return rows
}

// goListImports returns every package of the module with the module's
// packages its non-test files import.
func goListImports(t *testing.T) map[string][]string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list packages: %v", err)
	}
	out := run(t, "..", goTool, "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], modulePath) {
			continue // go's own messages (downloads)
		}
		var own []string
		for _, imp := range fields[1:] {
			if imp == modulePath || strings.HasPrefix(imp, modulePath+"/") {
				own = append(own, imp)
			}
		}
		pkgs[fields[0]] = own
	}
	return pkgs
}

// rowOf returns the row describing pkg: its own, or a subtree's.
func rowOf(rows []designRow, pkg string) (designRow, bool) {
	for _, r := range rows {
		if !r.subtree && r.pkg == pkg {
			return r, true
		}
	}
	for _, r := range rows {
		if r.subtree && (pkg == r.pkg || strings.HasPrefix(pkg, r.pkg+"/")) {
			return r, true
		}
	}
	return designRow{}, false
}

// shortName is how the imports column names a package: the last element
// of its path.
func shortName(pkg string) string { return path.Base(pkg) }

// columnNames parses an imports cell: "stdlib" and "(tests only)" are no
// module package; a note in parentheses after a name is dropped.
func columnNames(cell string) []string {
	if cell == "stdlib" || cell == "(tests only)" {
		return nil
	}
	cell = regexp.MustCompile(`\([^)]*\)`).ReplaceAllString(cell, "")
	var names []string
	for _, n := range strings.Split(cell, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// TestDesignLayersMatchImports checks docs/design.md's layers table against
// go list: every package has a row, every row a package, and each row's
// imports column names exactly the module packages its package imports.
func TestDesignLayersMatchImports(t *testing.T) {
	rows := designRows(t)
	pkgs := goListImports(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	names := map[string]string{} // short name -> package, for rows of one package
	for _, r := range rows {
		if r.subtree {
			continue
		}
		if _, ok := pkgs[r.pkg]; !ok {
			t.Errorf("design.md lists %s, which go list does not know", r.pkg)
		}
		if other, dup := names[shortName(r.pkg)]; dup {
			t.Errorf("design.md: %s and %s have the same short name", other, r.pkg)
		}
		names[shortName(r.pkg)] = r.pkg
	}
	var all []string
	for p := range pkgs {
		all = append(all, p)
	}
	sort.Strings(all)
	for _, p := range all {
		r, ok := rowOf(rows, p)
		if !ok {
			t.Errorf("%s has no row in design.md's layers table", p)
			continue
		}
		if r.subtree {
			continue // a subtree row lists no imports
		}
		want := columnNames(r.imports)
		for _, n := range want {
			if names[n] == "" {
				t.Errorf("design.md: %s's imports column names %q, which is no package of the table", p, n)
			}
		}
		var got []string
		for _, imp := range pkgs[p] {
			ir, ok := rowOf(rows, imp)
			switch {
			case !ok:
				t.Errorf("%s imports %s, which has no row in design.md", p, imp)
			case ir.subtree:
				t.Errorf("%s imports %s, which has only a subtree row in design.md", p, imp)
			default:
				got = append(got, shortName(ir.pkg))
			}
		}
		sort.Strings(got)
		got = compactStrings(got)
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("design.md says %s imports %q; go list says %q", p, strings.Join(want, ", "), strings.Join(got, ", "))
		}
	}
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
