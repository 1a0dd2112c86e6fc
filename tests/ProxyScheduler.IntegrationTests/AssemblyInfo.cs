// The tests start real servers on ports picked as free a moment before; a proxy killed by one test frees its port,
// which a server started by a test running beside it could take. One test at a time keeps every port to its test.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
