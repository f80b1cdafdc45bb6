// Package gochannel shows a foreign Watermill Pub/Sub used as a Conveyor
// sink: its example registers Watermill's in-memory GoChannel as the
// function "gochannel" in a clone of the default registry (with
// plugin.PublisherSink) and runs a pipeline into it. Run it with
//
//	go test -run Example -v ./examples/gochannel
package gochannel
