"""A real gRPC client in another language: drives Kafka-Pixy's service and Sluice's own through stubs that
protoc and grpc_python_plugin (Debian's protobuf-compiler-grpc) generated from the repository's protos.

Usage: grpc_client.py HOST:PORT STUBS_DIR. Prints one JSON object with what it saw; the C# test checks it.
"""
import json
import queue
import sys
import uuid

sys.path.insert(0, sys.argv[2])

import grpc  # noqa: E402
import kafkapixy_pb2 as px  # noqa: E402
import kafkapixy_pb2_grpc as pxg  # noqa: E402
from sluice.v1 import sluice_pb2 as sl  # noqa: E402
from sluice.v1 import sluice_pb2_grpc as slg  # noqa: E402

channel = grpc.insecure_channel(sys.argv[1])
out = {}

# Kafka-Pixy: the group starts at the end with its first request, then produce, consume, ack, offsets.
pixy = pxg.KafkaPixyStub(channel)
topic = "py-" + uuid.uuid4().hex
group = "pyg"
try:
    pixy.ConsumeNAck(px.ConsNAckRq(topic=topic, group=group, no_ack=True), timeout=60)
except grpc.RpcError as e:
    out["first_consume"] = [e.code().name, e.details()]
produced = pixy.Produce(px.ProdRq(topic=topic, key_value=b"key-1", message=b"hello",
                                  headers=[px.RecordHeader(key="h", value=b"v")]), timeout=60)
out["produce"] = [produced.partition, produced.offset]
m = pixy.ConsumeNAck(px.ConsNAckRq(topic=topic, group=group, no_ack=True), timeout=60)
out["consumed"] = {"message": m.message.decode(), "key": m.key_value.decode(), "key_undefined": m.key_undefined,
                   "headers": [[h.key, h.value.decode()] for h in m.headers], "partition": m.partition, "offset": m.offset}
pixy.Ack(px.AckRq(topic=topic, group=group, partition=m.partition, offset=m.offset), timeout=60)
offsets = pixy.GetOffsets(px.GetOffsetsRq(topic=topic, group=group), timeout=60)
out["offsets"] = [[o.partition, o.offset, o.lag] for o in offsets.offsets if o.partition == m.partition]
try:
    pixy.Produce(px.ProdRq(cluster="elsewhere", topic=topic, message=b"x"), timeout=60)
except grpc.RpcError as e:
    out["bad_cluster"] = [e.code().name, e.details()]

# Sluice's own service: produce, then a bidirectional consume with permits and an ack on the stream.
sluice = slg.SluiceStub(channel)
stopic = "py/tests/" + topic
sluice.Pull(sl.PullRequest(topic=stopic, subscription="py", wait_ms=0), timeout=60)  # creates it at the end
for i in range(2):
    sluice.Produce(sl.ProduceRequest(topic=stopic, key=b"k", value=("v%d" % i).encode()), timeout=60)

acks = queue.Queue()


def requests():
    yield sl.ConsumeRequest(subscribe=sl.Subscribe(topic=stopic, subscription="py", permits=2))
    while True:
        item = acks.get()
        if item is None:
            return
        yield sl.ConsumeRequest(ack=sl.Settle(ack_ids=item))


stream = sluice.Consume(requests(), timeout=60)
received = []
for response in stream:
    if response.WhichOneof("kind") == "message":
        received.append(response.message)
        if len(received) == 2:
            acks.put([r.ack_id for r in received])
    else:
        out["stream_acked"] = response.ack_result.succeeded
        acks.put(None)
        break
stream.cancel()
out["stream"] = [r.value.decode() for r in received]
print(json.dumps(out, separators=(",", ":")))
