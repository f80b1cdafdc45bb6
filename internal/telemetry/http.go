package telemetry

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves /metrics (Prometheus text or OpenMetrics), /healthz (200
// while the process is alive) and /readyz (200 "ready" while the run is
// ready, else 503 with one reason per line).
func (r *Run) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.own, promhttp.HandlerOpts{ErrorLog: zapPrintln{r}}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := r.Ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// zapPrintln logs promhttp's errors (a collector failing) as warnings.
type zapPrintln struct{ r *Run }

func (z zapPrintln) Println(v ...any) { z.r.log.Warn("serving /metrics: " + fmt.Sprint(v...)) }
