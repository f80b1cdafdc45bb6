// AvroWireCheck reads Kafka values in Confluent's wire format with Apache Avro's own Java
// library (the one Confluent's KafkaAvroDeserializer uses): each line of VALUES is one value in
// hex; each must be a zero byte, the 4-byte schema id ID, then Avro binary that SCHEMA (a file)
// reads whole. It prints each record as Avro's JSON (GenericRecord.toString), one per line.
//
// Usage: java -cp AVRO_JARS AvroWireCheck.java SCHEMA ID VALUES
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;

public class AvroWireCheck {
  public static void main(String[] args) throws Exception {
    Schema schema = new Schema.Parser().parse(Files.readString(Path.of(args[0])));
    int id = Integer.parseInt(args[1]);
    GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>(schema);
    for (String line : Files.readAllLines(Path.of(args[2]))) {
      byte[] b = HexFormat.of().parseHex(line.trim());
      ByteBuffer buf = ByteBuffer.wrap(b);
      if (buf.get() != 0) throw new IllegalStateException("magic byte is not 0: " + line);
      int got = buf.getInt();
      if (got != id) throw new IllegalStateException("schema id " + got + ", want " + id);
      BinaryDecoder dec = DecoderFactory.get().binaryDecoder(b, 5, b.length - 5, null);
      GenericRecord rec = reader.read(null, dec);
      if (!dec.isEnd()) throw new IllegalStateException("bytes left over after the record: " + line);
      System.out.println(rec);
    }
  }
}
