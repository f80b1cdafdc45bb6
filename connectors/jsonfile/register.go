package jsonfile

import "github.com/conveyor-etl/conveyor/plugin"

func init() {
	plugin.MustRegister(&plugin.Spec{
		Name: "json.read", Plugin: "json", Summary: "read a JSON array or JSON Lines file",
		Source: plugin.NewFactory(DefaultReadConfig, NewReader),
	})
	plugin.MustRegister(&plugin.Spec{
		Name: "json.write", Plugin: "json", Summary: "write records to a JSON array or JSON Lines file, appended to or replaced atomically when the run ends",
		Sink: plugin.NewFactory(DefaultWriteConfig, NewWriter), Check: CheckWrite,
	})
}
