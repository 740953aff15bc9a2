using System.Buffers;
using System.Text.Json;
using Sluice.Core.Subscriptions;

namespace Sluice.Server.Subscriptions;

/// <summary>
/// Writes a pull's answer, <c>{"messages":[...]}</c>, straight into the response pipe: each message by
/// <see cref="MessageJson.WriteTo"/>, the very bytes the serializer writes for a <see cref="PullResponse"/> (same names,
/// order and escaping), without a <see cref="PulledMessage"/>, its strings and header dictionary per message.
/// </summary>
internal static class PullResponseWriter
{
    /// <summary>
    /// The answer into the response pipe, not flushed: Kestrel sends it with the chunked answer's end when the endpoint
    /// returns, in one send (see <see cref="Hosting.JsonAnswer"/>), whether or not the client is still there.
    /// </summary>
    public static void Write(HttpResponse response, IReadOnlyList<Delivery> deliveries)
    {
        response.ContentType = "application/json; charset=utf-8";
        Write(response.BodyWriter, deliveries);
    }

    /// <summary>The answer's bytes into <paramref name="output"/> (the response pipe; a test's buffer).</summary>
    public static void Write(IBufferWriter<byte> output, IReadOnlyList<Delivery> deliveries)
    {
        output.Write("{\"messages\":["u8);
        Utf8JsonWriter? fallback = null;
        for (var i = 0; i < deliveries.Count; i++)
        {
            if (i > 0)
            {
                output.Write(","u8);
            }

            MessageJson.WriteTo(output, deliveries[i], ref fallback);
        }

        output.Write("]}"u8);
        fallback?.Dispose();
    }
}
