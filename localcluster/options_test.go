package localcluster

import (
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultBinDir(t *testing.T) {
	t.Setenv(BinDirEnv, "")

	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "// comment\nmodule \"github.com/informer-go/informer\" // the library\n\ngo 1.26\n")
	deep := filepath.Join(root, "a", "b")
	writeFile(t, filepath.Join(deep, "go.mod"), "module example.com/other\n")
	t.Chdir(deep)
	if got, err := DefaultBinDir(); err != nil || got != filepath.Join(root, "bin") {
		t.Errorf("from %s: got %q, %v; want %s", deep, got, err, filepath.Join(root, "bin"))
	}

	other := t.TempDir()
	writeFile(t, filepath.Join(other, "tools", "go.mod"), "module github.com/informer-go/informer/tools\n")
	t.Chdir(other)
	if got, err := DefaultBinDir(); err != nil || got != filepath.Join(other, "bin") {
		t.Errorf("next to tools/go.mod: got %q, %v; want %s", got, err, filepath.Join(other, "bin"))
	}

	t.Setenv(BinDirEnv, "/opt/informer-bin")
	if got, err := DefaultBinDir(); err != nil || got != "/opt/informer-bin" {
		t.Errorf("with $%s: got %q, %v", BinDirEnv, got, err)
	}
}

func TestModulePath(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"module github.com/informer-go/informer\n":               rootModule,
		"module\tgithub.com/informer-go/informer // x\n":         rootModule,
		"// module nope\nmodule example.com/m\n":                 "example.com/m",
		"modules are not declared here\n":                        "",
		"module \"github.com/informer-go/informer/tools\"\ngo 1": toolsModule,
	} {
		path := filepath.Join(dir, "go.mod")
		writeFile(t, path, content)
		if got := modulePath(path); got != want {
			t.Errorf("modulePath(%q) = %q, want %q", content, got, want)
		}
	}
	if got := modulePath(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("missing file: got %q", got)
	}
}
