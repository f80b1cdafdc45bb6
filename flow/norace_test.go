//go:build !race

package flow_test

// raceEnabled is true under -race.
const raceEnabled = false
