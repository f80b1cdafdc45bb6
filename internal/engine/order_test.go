package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// orderStages is one batch of ten records through failop into the flaky
// sink (which fails nothing here and keeps what it wrote, in order).
const orderStages = `
[[stages]]
id = "src"
function = "count"
[stages.config]
n = 10
batch = 10
[[stages]]
id = "op"
function = "failop"
inputs = ["src"]
[stages.config]
fail = "3,7"
times = 1
forever = %q
[[stages]]
id = "out"
function = "flaky"
inputs = ["op"]

[error_handling]
%s
`

// Records an operator failed and a retry recovered take their input's
// place in the batch's output: the sink gets the batch in input order, also
// when another record of the batch fails for good and is dead-lettered or
// skipped.
func TestOperatorRetryKeepsInputOrder(t *testing.T) {
	dlq := "dead_letter_queue = %q"
	for _, tc := range []struct {
		name, forever, eh string
		want              []int
		failed            int64
	}{
		{name: "transient failures recovered", eh: "strategy = \"retry\"\nmax_retries = 3\nretry_delay_seconds = 0.001",
			want: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{name: "one record dead-lettered", forever: "5", eh: "strategy = \"retry\"\nmax_retries = 2\nretry_delay_seconds = 0.001\n" + dlq,
			want: []int{0, 1, 2, 3, 4, 6, 7, 8, 9}, failed: 1},
		{name: "one record skipped", forever: "5", eh: `strategy = "continue"`,
			want: []int{0, 1, 2, 4, 6, 8, 9}, failed: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{}
			eh := tc.eh
			if tc.forever != "" && eh != `strategy = "continue"` {
				eh = fmt.Sprintf(eh, filepath.Join(t.TempDir(), "dlq.jsonl"))
			}
			sum, err := Run(context.Background(), pipeline(t, fmt.Sprintf(orderStages, tc.forever, eh)),
				Options{Registry: w.registry(), DrainTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(w.written) != fmt.Sprint(tc.want) {
				t.Errorf("the sink got %v, want %v (input order)", w.written, tc.want)
			}
			if sum.Failed != tc.failed {
				t.Errorf("summary %s; want failed=%d", sum, tc.failed)
			}
		})
	}
}
