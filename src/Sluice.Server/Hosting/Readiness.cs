namespace Sluice.Server.Hosting;

/// <summary><c>/readyz</c> answers 200 only between "log open and engine started" and "shutdown began".</summary>
internal sealed class Readiness
{
    private volatile bool _ready;

    public bool IsReady => _ready;

    public void Set(bool ready) => _ready = ready;
}
