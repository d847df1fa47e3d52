using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ChatPortal.Chat;

namespace ChatPortal.Cluster;

/// <summary>
/// <see cref="ChatEvent"/>s as JSON between nodes. Every concrete event type in the app is
/// registered as a derived type (by its class name), so a new event record crosses the
/// backplane without anyone remembering to list it.
/// </summary>
public static class ClusterEventJson
{
    public static IReadOnlyList<Type> EventTypes { get; } = typeof(ChatEvent).Assembly.GetTypes()
        .Where(t => t.IsSubclassOf(typeof(ChatEvent)) && !t.IsAbstract)
        .OrderBy(t => t.Name, StringComparer.Ordinal)
        .ToList();

    public static JsonSerializerOptions Options { get; } = Build();

    /// <summary>The cache slot of this format in <see cref="ChatEvent.Encoded{T}"/>: the last one, leaving the low slots to the socket formats.</summary>
    public static IWireFormat<byte[]> Format { get; } = new RedisWireFormat();

    public static byte[] Serialize(ChatEvent evt) => JsonSerializer.SerializeToUtf8Bytes(evt, Options);

    public static ChatEvent Deserialize(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<ChatEvent>(json, Options) ?? throw new JsonException("null event");

    private static JsonSerializerOptions Build()
    {
        var resolver = new DefaultJsonTypeInfoResolver();
        resolver.Modifiers.Add(info =>
        {
            if (info.Type != typeof(ChatEvent)) return;
            var poly = new JsonPolymorphismOptions
            {
                TypeDiscriminatorPropertyName = "$type",
                UnknownDerivedTypeHandling = System.Text.Json.Serialization.JsonUnknownDerivedTypeHandling.FailSerialization,
            };
            foreach (var t in EventTypes) poly.DerivedTypes.Add(new JsonDerivedType(t, t.Name));
            info.PolymorphismOptions = poly;
        });
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = resolver };
        options.MakeReadOnly();
        return options;
    }

    private sealed class RedisWireFormat : IWireFormat<byte[]>
    {
        public int Slot => WireFormats.MaxFormats - 1;
        public byte[] Encode(ChatEvent evt) => Serialize(evt);
    }
}
