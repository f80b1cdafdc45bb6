package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/operators"
)

// TestInfoPrintsDoc checks that `conveyor info filter.apply` prints the
// function's comparison table after its keys.
func TestInfoPrintsDoc(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := testApp().cmdInfo([]string{"filter.apply"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	doc := operators.FilterSpec().Doc
	if doc == "" || !strings.HasSuffix(out.String(), "\n"+doc) || !strings.Contains(out.String(), "\n  value ") {
		t.Errorf("info output lacks the keys or the table:\n%s", out.String())
	}
}
