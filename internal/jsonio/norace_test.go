//go:build !race

package jsonio

const raceEnabled = false
