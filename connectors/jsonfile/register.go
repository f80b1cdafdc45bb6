package jsonfile

import "github.com/conveyor-etl/conveyor/plugin"

func init() { plugin.MustRegister(Specs()...) }

// Specs are the functions this package registers.
func Specs() []*plugin.Spec { return []*plugin.Spec{ReadSpec(), WriteSpec()} }

// ReadSpec is the "json.read" function: a source.
func ReadSpec() *plugin.Spec {
	return &plugin.Spec{
		Name: "json.read", Plugin: "json", Summary: "read a JSON array or JSON Lines file",
		Source: plugin.NewFactory(DefaultReadConfig, NewReader),
	}
}

// WriteSpec is the "json.write" function: a sink.
func WriteSpec() *plugin.Spec {
	return &plugin.Spec{
		Name: "json.write", Plugin: "json", Summary: "write records to a JSON array or JSON Lines file, appended to or replaced atomically when the run ends",
		Sink: plugin.NewFactory(DefaultWriteConfig, NewWriter), Check: CheckWrite,
	}
}
