package window

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/config"
)

func TestAssign(t *testing.T) {
	cases := []struct {
		spec Spec
		t    int64
		want []Window
	}{
		{Spec{Kind: Tumbling, Size: 10}, 0, []Window{{0, 10}}},
		{Spec{Kind: Tumbling, Size: 10}, 19, []Window{{10, 20}}},
		{Spec{Kind: Tumbling, Size: 10}, -1, []Window{{-10, 0}}},
		{Spec{Kind: Hopping, Size: 10, Advance: 5}, 12, []Window{{5, 15}, {10, 20}}},
		{Spec{Kind: Hopping, Size: 10, Advance: 5}, 10, []Window{{5, 15}, {10, 20}}},
		{Spec{Kind: Hopping, Size: 10, Advance: 3}, 10, []Window{{3, 13}, {6, 16}, {9, 19}}},
		{Spec{Kind: Hopping, Size: 10, Advance: 10}, 10, []Window{{10, 20}}},
		{Spec{Kind: Hopping, Size: 10, Advance: 4}, -3, []Window{{-12, -2}, {-8, 2}, {-4, 6}}},
		{Spec{Kind: Session, Gap: 30}, 7, []Window{{7, 37}}},
		{Spec{Kind: None}, 7, []Window{Forever}},
	}
	for _, c := range cases {
		got := c.spec.Assign(nil, c.t)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %+v at %d: %v, want %v", c.spec.Kind, c.spec, c.t, got, c.want)
		}
		for _, w := range got {
			if !w.Contains(c.t) {
				t.Errorf("%v does not contain %d", w, c.t)
			}
		}
	}
}

func TestCloseAt(t *testing.T) {
	s := Spec{Kind: Tumbling, Size: 10, Grace: 5}
	if got := s.CloseAt(Window{10, 20}); got != 25 {
		t.Fatalf("CloseAt = %d, want 25", got)
	}
	if got := s.CloseAt(Forever); got != math.MaxInt64 {
		t.Fatalf("CloseAt(Forever) = %d", got)
	}
}

func TestValidate(t *testing.T) {
	err := Spec{Kind: Hopping, Size: 0, Advance: 20, Grace: -1}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"size_ms: must be > 0", "advance_ms: must be > 0 and <= size_ms", "grace_ms: must be >= 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if err := (Spec{Kind: Session}).Validate(); err == nil || !strings.Contains(err.Error(), "gap_ms") {
		t.Errorf("session without gap: %v", err)
	}
	if err := (Spec{Kind: Tumbling, Size: 60000, Grace: 10000}).Validate(); err != nil {
		t.Error(err)
	}
	if _, err := ParseKind("tumbing"); err == nil {
		t.Error("ParseKind took a typo")
	}
}

func TestMergeSession(t *testing.T) {
	var open []Window
	add := func(ts int64) {
		merged, from, to := MergeSession(open, Window{ts, ts + 10})
		open = slices.Replace(open, from, to, merged)
	}
	for _, ts := range []int64{100, 50, 0, 25, 60} {
		add(ts)
	}
	// 0..10, 25..35 apart; 50..60 and 60..70 meet; 100..110 alone.
	want := []Window{{0, 10}, {25, 35}, {50, 70}, {100, 110}}
	if !slices.Equal(open, want) {
		t.Fatalf("%v, want %v", open, want)
	}
	add(12) // [12,22): touches nothing (10 < 12, 22 < 25)
	add(20) // [20,30) bridges [12,22) and [25,35)
	add(5)  // [5,15) joins [0,10) and [12,35)
	want = []Window{{0, 35}, {50, 70}, {100, 110}}
	if !slices.Equal(open, want) {
		t.Fatalf("%v, want %v", open, want)
	}
}

func TestAppendTime(t *testing.T) {
	if got := string(AppendTime(nil, 1796601660000)); got != "2026-12-07T00:01:00Z" {
		t.Errorf("got %s", got)
	}
	if got := string(AppendTime(nil, 1796601660250)); got != "2026-12-07T00:01:00.250Z" {
		t.Errorf("got %s", got)
	}
}

func TestPlace(t *testing.T) {
	tum := Spec{Kind: Tumbling, Size: 10, Grace: 5}
	// prev 24 < 10+... window [10,20) closes at 25.
	if ws, l := tum.Place(nil, 12, 24, NoTime); l != OnTime || len(ws) != 1 {
		t.Errorf("on time: %v %v", ws, l)
	}
	if _, l := tum.Place(nil, 12, 25, NoTime); l != LateInPartition {
		t.Errorf("prev at close: %v", l)
	}
	if _, l := tum.Place(nil, 12, 20, 25); l != LateClosed {
		t.Errorf("closed by the watermark: %v", l)
	}
	hop := Spec{Kind: Hopping, Size: 10, Advance: 5, Grace: 0}
	// t=12 is in [5,15) (closes 15) and [10,20) (closes 20); prev 16.
	if ws, l := hop.Place(nil, 12, 16, NoTime); l != OnTime || !slices.Equal(ws, []Window{{10, 20}}) {
		t.Errorf("hopping, one window open: %v %v", ws, l)
	}
	if _, l := hop.Place(nil, 12, 20, NoTime); l != LateInPartition {
		t.Errorf("hopping, all closed: %v", l)
	}
	ses := Spec{Kind: Session, Gap: 30, Grace: 5}
	if _, l := ses.Place(nil, 100, 105, NoTime); l != LateInPartition {
		t.Errorf("session record behind t+grace: %v", l)
	}
	if ws, l := ses.Place(nil, 100, 104, NoTime); l != OnTime || ws[0] != (Window{100, 130}) {
		t.Errorf("session on time: %v %v", ws, l)
	}
	if _, l := (Spec{Kind: None}).Place(nil, 1, math.MaxInt64-1, math.MaxInt64-1); l != OnTime {
		t.Errorf("none is never late: %v", l)
	}
}

// TestErrorsNameTheirKeys: the errors are config.FieldErrors, so a stage's
// Validate returns them as they are and validate reports each at its key.
func TestErrorsNameTheirKeys(t *testing.T) {
	var keys []string
	collect := func(err error) {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var fe *config.FieldError
			if !errors.As(e, &fe) {
				t.Fatalf("%v is not a config.FieldError", e)
			}
			keys = append(keys, fe.Key)
		}
	}
	collect(Spec{Kind: Hopping, Advance: -1, Grace: -1}.Validate())
	_, err := ParseSet(map[string]string{"revenue": "sun(amount)", "orders": "count()"})
	collect(err)
	if want := []string{"size_ms", "advance_ms", "grace_ms", "aggregates.revenue"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
}
