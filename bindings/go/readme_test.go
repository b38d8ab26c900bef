package zeekagent

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// goBlocks returns the ```go blocks of a Markdown text.
func goBlocks(markdown string) []string {
	var blocks []string
	for _, part := range strings.Split(markdown, "```go\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		blocks = append(blocks, strings.TrimSpace(block))
	}
	return blocks
}

// Every Go snippet of README.md is, verbatim, a declaration of
// example_test.go, so that go test compiles (and for examples with an
// Output comment, runs) exactly what the README shows.
func TestReadmeSnippetsCompile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	source, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "example_test.go", source, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, decl := range file.Decls {
		if fn, ok := decl.(*ast.FuncDecl); ok {
			declared[string(source[fset.Position(fn.Pos()).Offset:fset.Position(fn.End()).Offset])] = true
		}
	}
	blocks := goBlocks(string(readme))
	if len(blocks) == 0 {
		t.Fatal("README.md has no Go snippet")
	}
	for _, block := range blocks {
		if !declared[block] {
			t.Errorf("this README.md snippet is not a function of example_test.go, so nothing compiles it:\n%s", block)
		}
	}
}
