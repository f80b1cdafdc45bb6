package schema

import (
	"context"
	"fmt"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/conveyor-etl/conveyor/internal/record"
)

// protoCodec is Protobuf's: messages of one .proto file, in the JSON form
// of Protobuf's own JSON mapping (protojson: field names as in the .proto
// file, 64-bit integers as strings, enums by name, bytes as base64, every
// field written, defaults too), with MessageField added.
type protoCodec struct {
	file   protoreflect.FileDescriptor
	write  protoreflect.MessageDescriptor // what encode writes
	prefix []byte                         // write's message indexes, as the wire format has them
}

var (
	toJSON   = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}
	fromJSON = protojson.UnmarshalOptions{DiscardUnknown: true} // the record's metadata, and fields the schema has not
)

func compileProtobuf(text, message string) (codec, error) {
	const name = "schema.proto"
	comp := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{name: text})})}
	files, err := comp.Compile(context.Background(), name)
	if err != nil {
		return nil, fmt.Errorf("protobuf schema: %w", err)
	}
	c := &protoCodec{file: files[0]}
	msgs := c.file.Messages()
	if msgs.Len() == 0 {
		return nil, fmt.Errorf("protobuf schema: it has no message")
	}
	c.write = msgs.Get(0)
	index := []int{0}
	if message != "" {
		if c.write, index = findMessage(msgs, protoreflect.FullName(message), nil); c.write == nil {
			return nil, fmt.Errorf("protobuf schema: no message %s in it", message)
		}
	}
	c.prefix = appendIndexes(nil, index)
	return c, nil
}

// findMessage is the message named full among msgs and their nested ones,
// with its indexes.
func findMessage(msgs protoreflect.MessageDescriptors, full protoreflect.FullName, at []int) (protoreflect.MessageDescriptor, []int) {
	for i := range msgs.Len() {
		m := msgs.Get(i)
		idx := append(append([]int(nil), at...), i)
		if m.FullName() == full {
			return m, idx
		}
		if found, fi := findMessage(m.Messages(), full, idx); found != nil {
			return found, fi
		}
	}
	return nil, nil
}

func (c *protoCodec) decode(dst, body []byte) ([]byte, error) {
	index, rest, err := (&sr.ConfluentHeader{}).DecodeIndex(body, 32)
	if err != nil {
		return dst, fmt.Errorf("protobuf message indexes: %w", err)
	}
	md, err := c.message(index)
	if err != nil {
		return dst, err
	}
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(rest, m); err != nil {
		return dst, fmt.Errorf("protobuf %s: %w", md.FullName(), err)
	}
	text, err := toJSON.Marshal(m)
	if err != nil {
		return dst, fmt.Errorf("protobuf %s: %w", md.FullName(), err)
	}
	// protojson's spacing varies on purpose: compacted, as Decode promises.
	start := len(dst)
	out, _ := record.AppendCompact(dst, text)
	out = out[:len(out)-1]
	if len(out)-start > 1 {
		out = append(out, ',')
	}
	out = append(out, `"`+MessageField+`":"`...)
	out = append(out, md.FullName()...)
	return append(out, '"', '}'), nil
}

// message is the message the indexes name (Confluent's: the position of
// each, top-level first, then nested).
func (c *protoCodec) message(index []int) (protoreflect.MessageDescriptor, error) {
	msgs := c.file.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range index {
		if i < 0 || i >= msgs.Len() {
			return nil, fmt.Errorf("protobuf: message indexes %v name no message of the schema", index)
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	if md == nil {
		return nil, fmt.Errorf("protobuf: no message indexes")
	}
	return md, nil
}

func (c *protoCodec) encode(dst, rec []byte) ([]byte, error) {
	m := dynamicpb.NewMessage(c.write)
	if err := fromJSON.Unmarshal(rec, m); err != nil {
		return dst, fmt.Errorf("the record does not fit protobuf %s: %w", c.write.FullName(), err)
	}
	start := len(dst)
	out, err := proto.MarshalOptions{}.MarshalAppend(append(dst, c.prefix...), m)
	if err != nil {
		return dst[:start], fmt.Errorf("protobuf %s: %w", c.write.FullName(), err)
	}
	return out, nil
}

// appendIndexes appends Confluent's message indexes: the count, then each,
// as zigzag varints; the first message, [0], as the single byte 0.
func appendIndexes(dst []byte, index []int) []byte {
	if len(index) == 1 && index[0] == 0 {
		return append(dst, 0)
	}
	dst = appendVarint(dst, int64(len(index)))
	for _, i := range index {
		dst = appendVarint(dst, int64(i))
	}
	return dst
}
