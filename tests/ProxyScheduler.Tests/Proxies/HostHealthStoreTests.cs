using ProxyScheduler.Proxies;
using ProxyScheduler.Proxies.Internal;

namespace ProxyScheduler.Tests.Proxies;

public sealed class HostHealthStoreTests
{
    private static ProxyNode Node(int i) => new(new ProxyEndpoint(ProxyScheme.Http, $"10.0.0.{i}", 8080), 8, 0, 0, $"n{i}");

    [Fact]
    public void GetOrAdd_PastTheCap_ForgetsTheOldestUnusedRecord()
    {
        var sut = new HostHealthStore(16);
        var node = Node(1);
        var kept = sut.GetOrAdd(node, new HostKey("kept.test", 80));
        for (var i = 0; i < 100; i++)
        {
            sut.GetOrAdd(node, new HostKey($"h{i}.test", 80));
            sut.TryGet(node, new HostKey("kept.test", 80), out _).Should().BeTrue("a record in use gets a second chance");
        }

        sut.Count.Should().BeLessThanOrEqualTo(16);
        sut.TryGet(node, new HostKey("h0.test", 80), out _).Should().BeFalse("the oldest unused record was forgotten");
        sut.TryGet(node, new HostKey("kept.test", 80), out var entry).Should().BeTrue();
        entry.Should().BeSameAs(kept);
    }

    [Fact]
    public void RemoveAll_ForgetsOneProxysRecordsOnly_AndChurnStaysBounded()
    {
        var sut = new HostHealthStore(1000);
        for (var round = 0; round < 200; round++)
        {
            var node = Node(round % 250);
            for (var h = 0; h < 10; h++)
            {
                sut.GetOrAdd(node, new HostKey($"h{h}.test", 80));
            }

            sut.RemoveAll(node);
        }

        var survivor = Node(251);
        sut.GetOrAdd(survivor, new HostKey("a.test", 80));
        sut.RemoveAll(Node(252));
        sut.Count.Should().Be(1);
        sut.TryGet(survivor, new HostKey("a.test", 80), out _).Should().BeTrue();
    }
}
