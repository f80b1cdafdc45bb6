//go:build race

package kafka

// raceEnabled is true under -race.
const raceEnabled = true
