package plugin_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocListsEveryConfigTag: the package doc, where a plugin author looks,
// lists every struct tag the config decoder reads (config/decode.go), so
// a tag added there cannot go undocumented here.
func TestDocListsEveryConfigTag(t *testing.T) {
	decoder, err := os.ReadFile("../config/decode.go")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	read := regexp.MustCompile(`Tag\.(?:Get|Lookup)\("(\w+)"\)|bound\(sf, "(\w+)"\)`).FindAllStringSubmatch(string(decoder), -1)
	if len(read) < 10 {
		t.Fatalf("found only %d tags read in config/decode.go; has the decoder changed shape?", len(read))
	}
	for _, m := range read {
		tag := m[1] + m[2]
		if !strings.Contains(string(doc), "\n//\t"+tag+`:"`) && !strings.Contains(string(doc), ` `+tag+`:"`) {
			t.Errorf("plugin/doc.go does not list the tag %s:\"...\" that config/decode.go reads", tag)
		}
	}
}
