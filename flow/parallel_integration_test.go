package flow_test

import (
	"testing"

	"github.com/conveyor-etl/conveyor/internal/kafkatest"
)

// parallelOnRealBroker lets t run alongside the other tests that call it
// when it runs against a real broker. Such a test mostly waits (feeds
// spread over seconds, session timeouts, restarts of its own processes)
// and uses its own topics, groups and transactional.ids, so CI overlaps
// those waits (go test's -parallel, GOMAXPROCS by default).
//
// A test that stops, kills or restarts a broker never calls it: go test
// starts the parallel tests of a package only once every sequential one
// has returned, so they never run during a broker fault. On the in-process
// broker (the unit run, under -race, where CPU and not waiting is the
// limit) every test stays sequential.
func parallelOnRealBroker(t *testing.T, env kafkatest.Env) {
	t.Helper()
	if env.Real {
		t.Parallel()
	}
}
