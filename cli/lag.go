package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/conveyor-etl/conveyor/config"
	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/plugin"
)

// lagAbout is what `conveyor lag --help` says the command does.
const lagAbout = `Prints, per partition, the consumer group's committed offset, the end offset
and the lag (end - committed), like kafka-consumer-groups --describe: for
every kafka source stage of the pipeline (with its brokers, group, topic and
security settings), or for one group and topic (PLAINTEXT). Where the group
has committed nothing, COMMITTED is "-" and the lag counts from where the
source would start (start_offset: earliest = the log start offset, latest =
the end, so 0). Commits nothing, creates nothing.`

// lagReport is one group's lag on one topic, as printed.
type lagReport struct {
	Stage       string         `json:"stage,omitempty"`
	Group       string         `json:"group"`
	Topic       string         `json:"topic"`
	StartOffset string         `json:"start_offset"`
	Partitions  []partitionLag `json:"partitions"`
	TotalLag    int64          `json:"total_lag"`
	Error       string         `json:"error,omitempty"`
}

// partitionLag is kafka.PartitionLag with "nothing committed" as null.
type partitionLag struct {
	Partition int32  `json:"partition"`
	Committed *int64 `json:"committed"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
}

func (a *app) cmdLag(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("lag", "[--format text|json] PIPELINE.toml | --group G --topic T --brokers HOST:PORT[,...] [--start-offset earliest|latest]", lagAbout)
	format := fs.String("format", "text", "text or json")
	group := fs.String("group", "", "consumer group (instead of a pipeline file)")
	topic := fs.String("topic", "", "topic, with --group")
	brokers := fs.String("brokers", "", "brokers, comma-separated host:port, with --group")
	start := fs.String("start-offset", "earliest", "where the group starts when it has committed nothing, with --group: earliest or latest")
	if exit, ok := fs.parse(args, stdout, stderr); !ok {
		return exit
	}
	pos := fs.Args()
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "conveyor lag: --format: want text or json, got %q\n", *format)
		return 2
	}
	byFlags := *group != "" || *topic != "" || *brokers != ""
	if (len(pos) == 1) == byFlags || len(pos) > 1 {
		return fs.badArgs(stderr, "give either a pipeline file or --group, --topic and --brokers")
	}
	var sources []lagSource
	if byFlags {
		src, err := flagSource(*group, *topic, *brokers, *start)
		if err != nil {
			fmt.Fprintf(stderr, "conveyor lag: %v\n", err)
			return 2
		}
		sources = []lagSource{src}
	} else {
		var err error
		if sources, err = a.pipelineSources(pos[0]); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	reports := make([]lagReport, len(sources))
	code := 0
	for i, s := range sources {
		reports[i] = s.report()
		if reports[i].Error != "" {
			fmt.Fprintf(stderr, "conveyor lag: %s\n", reports[i].Error)
			code = 1
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"stages": reports})
		return code
	}
	first := true
	for _, r := range reports {
		if r.Error != "" {
			continue
		}
		if !first {
			fmt.Fprintln(stdout)
		}
		first = false
		printLag(stdout, r)
	}
	return code
}

// lagSource is a group and topic to report on, and where to find them.
type lagSource struct {
	stage string // "" without a pipeline
	cfg   *kafka.SourceConfig
}

// report measures the lag; a failure is kept in the report's Error.
func (s lagSource) report() lagReport {
	r := lagReport{Stage: s.stage, Group: s.cfg.GroupID, Topic: s.cfg.Topic, StartOffset: s.cfg.StartOffset, Partitions: []partitionLag{}}
	lags, err := kafka.Lag(s.cfg, s.stage)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	for _, l := range lags {
		p := partitionLag{Partition: l.Partition, Start: l.Start, End: l.End, Lag: l.Lag}
		if l.Committed >= 0 {
			p.Committed = &l.Committed
		}
		r.Partitions = append(r.Partitions, p)
		r.TotalLag += l.Lag
	}
	return r
}

// flagSource is the source that --group, --topic and --brokers describe.
func flagSource(group, topic, brokers, start string) (lagSource, error) {
	if group == "" || topic == "" || brokers == "" {
		return lagSource{}, fmt.Errorf("--group, --topic and --brokers go together")
	}
	if start != "earliest" && start != "latest" {
		return lagSource{}, fmt.Errorf("--start-offset: want earliest or latest, got %q", start)
	}
	cfg := kafka.DefaultSourceConfig()
	cfg.GroupID, cfg.Topic, cfg.StartOffset = group, topic, start
	for _, b := range strings.Split(brokers, ",") {
		cfg.Brokers = append(cfg.Brokers, strings.TrimSpace(b))
	}
	if err := cfg.Validate(); err != nil {
		return lagSource{}, err
	}
	return lagSource{cfg: cfg}, nil
}

// pipelineSources returns the kafka source stages of the pipeline at path
// with their decoded configs, in file order.
func (a *app) pipelineSources(path string) ([]lagSource, error) {
	p, err := a.load(path)
	if err != nil {
		return nil, err
	}
	return a.kafkaSources(p)
}

// kafkaSources returns the kafka source stages of p, which has passed
// validation, with their decoded configs, in file order. A registry whose
// "kafka" is not Conveyor's has none.
func (a *app) kafkaSources(p *config.Pipeline) ([]lagSource, error) {
	path := p.File
	var out []lagSource
	spec, ok := a.reg.Lookup("kafka")
	for i := range p.Stages {
		st := &p.Stages[i]
		if !ok || spec.Source == nil || st.Function != "kafka" || len(st.Inputs) > 0 {
			continue
		}
		cfg, err := plugin.DecodeConfig(spec.Source, st)
		if err != nil {
			return nil, err // load checked it already
		}
		if c, ok := cfg.(*kafka.SourceConfig); ok {
			out = append(out, lagSource{stage: st.ID, cfg: c})
		}
	}
	if len(out) == 0 {
		return nil, &config.Error{Pos: config.Pos{File: path}, Stage: -1, Msg: `no kafka source in the pipeline (a stage with function = "kafka" and inputs = [])`}
	}
	return out, nil
}

// printLag writes one report as a table with a total line.
func printLag(w io.Writer, r lagReport) {
	if r.Stage != "" {
		fmt.Fprintf(w, "stage %q: ", r.Stage)
	}
	fmt.Fprintf(w, "group %q, topic %q, start_offset = %s\n", r.Group, r.Topic, r.StartOffset)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG")
	for _, p := range r.Partitions {
		committed := "-"
		if p.Committed != nil {
			committed = fmt.Sprint(*p.Committed)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\n", r.Topic, p.Partition, committed, p.End, p.Lag)
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t\t%d\n", r.TotalLag)
	tw.Flush()
}
