using ChatPortal.Chat;
using Microsoft.Extensions.DependencyInjection;

namespace ChatPortal.Tests.Infrastructure;

/// <summary>Anything in a test that hosts the chat core (a core harness, an admin harness, a cluster node, an in-process portal).</summary>
public interface IChatCore
{
    IServiceProvider Services { get; }
}

/// <summary>The core's services, as the adapters use them, on every host a test starts.</summary>
public static class ChatCoreAccess
{
    extension(IChatCore core)
    {
        public ChatCommands Commands => core.Services.GetRequiredService<ChatCommands>();
        public ChatRooms Rooms => core.Services.GetRequiredService<ChatRooms>();
        public ChatHistory History => core.Services.GetRequiredService<ChatHistory>();
        public ChatSessions Sessions => core.Services.GetRequiredService<ChatSessions>();
        public UserDirectory Users => core.Services.GetRequiredService<UserDirectory>();

        /// <summary>Whether the core lets the user read the room now.</summary>
        public async Task<bool> CanReadAsync(UserRef user, RoomInfo room) => await core.Rooms.Directory.CheckReadAsync(user, room) is null;

        /// <summary>The raw fan-out: what a test subscriber sees of every event of a room, unfiltered.</summary>
        public LocalFanout Fanout => core.Services.GetRequiredService<LocalFanout>();

        /// <summary>Marks the user present in the room (as a tab or a socket does) until disposed.</summary>
        public IDisposable EnterRoom(long roomId, UserRef user) =>
            core.Services.GetRequiredService<PresenceTracker>().Enter(roomId, user, core.Services.GetRequiredService<IChatBackplane>().Publish);
    }
}
