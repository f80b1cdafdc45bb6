//go:build !race

package sql_test

// raceEnabled is true under -race.
const raceEnabled = false
