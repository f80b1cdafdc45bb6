package gen

// AvroSchema is the Avro schema of the records Append writes, field for
// field (the etlavro scenario's input and output).
const AvroSchema = `{"type":"record","name":"Event","namespace":"bench","fields":[
 {"name":"event_id","type":"string"},{"name":"user_id","type":"long"},{"name":"event","type":"string"},
 {"name":"amount","type":"double"},{"name":"currency","type":"string"},{"name":"ts","type":"string"},
 {"name":"country","type":"string"},{"name":"device","type":"string"}]}`
