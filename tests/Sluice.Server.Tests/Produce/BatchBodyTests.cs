using System.Text;
using System.Text.Json;
using Sluice.Server.Hosting;
using Sluice.Server.Problems;
using Sluice.Server.Produce;

namespace Sluice.Server.Tests.Produce;

/// <summary>
/// The batch parser reads bodies of the plain shape itself and leaves every other body to the serializer. These tests
/// hold the two paths to one answer: for each body, the records (or the refusal) must be what the serializer alone gives.
/// </summary>
public sealed class BatchBodyTests
{
    private const string Json = "application/json";
    private const string Ndjson = "application/x-ndjson";

    public static TheoryData<string> JsonBodies => new()
    {
        """{"messages":[{"value":"a"},{"value":"b","key":"k"}]}""",
        """{"messages":[{"key":null,"value":null},{"valueBase64":"aGk="},{"value":{"n":[1,2]}},{"value":12.5}]}""",
        """{"messages":[{"value":"esc \"q\" \u00e9 \n","headers":{"h":"v","w":"\u0041"},"partition":2}]}""",
        """{"messages":[{"value":"d","deliverAt":"2030-01-01T00:00:00Z"},{"value":"e","deliverAt":1893456000000},{"value":"f","deliverAfterMs":500}]}""",
        """{"messages":[{"value":"x","headers":null,"partition":null,"deliverAfterMs":null,"valueBase64":null}]}""",
        // Not the plain shape: the serializer decides (any case of a name, a repeated field, an escaped name).
        """{"messages":[{"Value":"upper"},{"VALUE":"all"}]}""",
        """{"messages":[{"value":"first","value":"second"}]}""",
        """{"messages":[{"\u0076alue":"escaped name"}]}""",
        """{"messages":[{"value":"h","headers":{"a":"1","a":"2"}}]}""",
        """{"messages":[]}""",
        """{"messages":null}""",
        """{"messages":[null]}""",
        """ { "messages" : [ { "value" : "spaced" } ] } """,
        // Refused, by the serializer's rules.
        """{"messages":[{"value":"a","extra":1}]}""",
        """{"messages":[{"value":"a"}],"more":1}""",
        """{"messages":[{"value":"a","partition":"1"}]}""",
        """{"messages":[{"value":"a","partition":1.5}]}""",
        """{"messages":[{"value":"a","partition":3000000000}]}""",
        """{"messages":[{"value":"a","deliverAfterMs":1e3}]}""",
        """{"messages":[{"value":"a","deliverAt":null}]}""",
        """{"messages":[{"value":"a","headers":{"h":1}}]}""",
        """{"messages":[{"value":"a","headers":{"h":null}}]}""",
        """{"messages":[{"value":"a"}]} trailing""",
        """{"messages":[{"value":"a"}""",
        """{"messages":[{"value":"\ud800"}]}""",
        """[{"value":"a"}]""",
    };

    public static TheoryData<string> NdjsonBodies => new()
    {
        "{\"value\":\"a\"}\n{\"value\":\"b\",\"key\":\"k\"}\n",
        "{\"value\":\"a\"}\r\n{\"value\":\"b\"}",
        "\n  \n{\"value\":\"a\"}\n\t\n \r\n{\"value\":\"b\",\"headers\":{\"h\":\"v\"}}\n\n",
        "  {\"value\":\"indented\"}  \n",
        "{\"value\":null}\n{\"valueBase64\":\"aGk=\",\"partition\":0}\n{\"value\":[1,{\"a\":2}],\"deliverAfterMs\":10}\n",
        "{\"Value\":\"case\"}\n",
        "",
        "\n\n",
        // Refused: naming the line.
        "{\"value\":\"a\"} {\"value\":\"b\"}\n",
        "{\"value\":\"a\"}\n{\n\"value\":\"b\"}\n",
        "{\"value\":\"a\"}\nnull\n",
        "{\"value\":\"a\"}\n\"text\"\n",
        "{\"value\":\"a\"}\n{\"value\":\"b\",\"nope\":1}\n",
        "{\"value\":\"a\"}\n{broken\n",
        "{\"value\":\"a\"}\n[1]\n",
    };

    [Theory]
    [MemberData(nameof(JsonBodies))]
    public void Json_BodyParsesToWhatTheSerializerAloneGives(string body)
        => AssertSameAnswer(Json, body, bytes => HttpRequestReader.Deserialize(bytes, SluiceJsonContext.Api.BatchRequest, "the batch")?.Messages ?? []);

    [Theory]
    [MemberData(nameof(NdjsonBodies))]
    public void Ndjson_BodyParsesToWhatTheSerializerGivesLineByLine(string body)
        => AssertSameAnswer(Ndjson, body, ReferenceNdjson);

    [Fact]
    public void Ndjson_RecordSpanningTwoLines_IsRefusedNamingItsFirstLine()
    {
        var problem = Assert.Throws<ProblemException>(() => BatchBody.Parse(Ndjson, "{\"value\":\"a\"}\n\n{\"value\":\n\"b\"}\n"u8));
        Assert.Equal(ProblemKind.MalformedJson, problem.Kind);
        Assert.StartsWith("NDJSON line 3 ", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ndjson_TwoRecordsOnOneLine_AreRefusedNamingTheLine()
    {
        var problem = Assert.Throws<ProblemException>(() => BatchBody.Parse(Ndjson, "{\"value\":\"a\"}\n{\"value\":\"b\"}{\"value\":\"c\"}\n"u8));
        Assert.StartsWith("NDJSON line 2 ", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_PlainBody_KeepsEveryFieldOfEveryRecord()
    {
        var records = BatchBody.Parse("application/json; charset=utf-8",
            """{"messages":[{"key":"k1","value":"v\n1","headers":{"a":"x"},"partition":3,"deliverAfterMs":250},{"valueBase64":"AAE=","deliverAt":"2031-02-03T04:05:06Z"}]}"""u8);
        Assert.Equal(2, records.Count);
        Assert.Equal("k1", records[0].Key);
        Assert.Equal("v\n1"u8.ToArray(), records[0].Value!.Bytes);
        Assert.Equal("x", records[0].Headers!["a"]);
        Assert.Equal(3, records[0].Partition);
        Assert.Equal(250, records[0].DeliverAfterMs);
        Assert.Null(records[1].Value);
        Assert.Equal("AAE=", records[1].ValueBase64);
        Assert.Equal("2031-02-03T04:05:06Z", records[1].DeliverAt!.Value.GetString());
    }

    private static List<BatchRecord> ReferenceNdjson(byte[] body)
    {
        var records = new List<BatchRecord>();
        var lines = Encoding.UTF8.GetString(body).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim(' ', '\t', '\r').Length == 0)
            {
                continue;
            }

            var record = HttpRequestReader.Deserialize(Encoding.UTF8.GetBytes(lines[i]), SluiceJsonContext.Api.BatchRecord, $"NDJSON line {i + 1}");
            records.Add(record ?? throw new ProblemException(ProblemKind.MalformedJson, $"NDJSON line {i + 1} is null"));
        }

        return records;
    }

    private static void AssertSameAnswer(string contentType, string body, Func<byte[], List<BatchRecord>> reference)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        string expected;
        try
        {
            expected = Describe(reference(bytes));
        }
        catch (ProblemException problem)
        {
            var refused = Assert.Throws<ProblemException>(() => BatchBody.Parse(contentType, bytes));
            Assert.Equal(problem.Kind, refused.Kind);
            // The same problem: NDJSON names the same line.
            Assert.Equal(problem.Message.Split(' ')[..3], refused.Message.Split(' ')[..3]);
            return;
        }

        Assert.Equal(expected, Describe(BatchBody.Parse(contentType, bytes)));
    }

    private static string Describe(List<BatchRecord> records)
    {
        var text = new StringBuilder();
        foreach (var r in records)
        {
            text.Append(r is null ? "null" : string.Join('|',
                r.Key ?? "<no key>",
                r.Value is null ? "<no value>" : r.Value.Bytes is null ? "<tombstone>" : Convert.ToHexString(r.Value.Bytes),
                r.ValueBase64 ?? "<no base64>",
                r.Headers is null ? "<no headers>" : string.Join(',', r.Headers.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => h.Key + "=" + h.Value)),
                r.Partition?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "<no partition>",
                r.DeliverAt?.GetRawText() ?? "<no deliverAt>",
                r.DeliverAfterMs?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "<no delay>")).Append('\n');
        }

        return text.ToString();
    }
}
