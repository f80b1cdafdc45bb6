//go:build race

package jsonio

// raceEnabled makes the largest tests smaller under the slow race detector.
const raceEnabled = true
