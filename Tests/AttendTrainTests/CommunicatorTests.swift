// Communicators inside one process: the single-process group is the identity; a watched operation
// that hangs fails within its timeout with the operation and the training step in the message; a
// trainer in a group takes its own shard of each batch, refuses batches the group cannot split,
// receives process 0's state and notices replicas that drifted apart.
import AttendCore
import AttendData
import AttendNN
import Foundation
import Testing

@testable import AttendTrain

@Suite struct CommunicatorTests {
    @Test func singleProcessCollectivesAreTheIdentity() throws {
        let one = SingleProcessCommunicator()
        #expect(one.rank == 0 && one.size == 1 && one.isRoot)
        var floats: [Float] = [1, -2, 3.5]
        try floats.withUnsafeMutableBufferPointer { try one.allReduceSum($0) }
        #expect(floats == [1, -2, 3.5])
        #expect(try one.allReduce([4, 5], .maximum) == [4, 5])
        #expect(try one.any(true) && !(try one.any(false)))
        let (configuration, _) = try tinyConfiguration("listops")
        #expect(try one.broadcast(configuration, root: 0) == configuration)
        #expect(throws: CommunicatorError.invalidRoot(1, size: 1)) {
            _ = try one.broadcast(Data([1]), root: 1)
        }
    }

    @Test func aHangingAllReduceFailsWithinTheTimeoutNamingItsStep() throws {
        let gate = Gate()
        let peer = ScriptedCommunicator(size: 2)
        // the other process never arrives
        peer.onAllReduceSum = { _ in _ = gate.wait(seconds: 20) }
        let record = TimeoutRecord()
        let watched = WatchedCommunicator(peer, timeout: 0.2) { error in
            record.append(error)
            gate.open()  // in a real run the handler aborts every process instead
        }
        watched.phase = "step 3 (gradients)"
        var values: [Float] = [1, 2, 3, 4]
        let start = ContinuousClock.now
        #expect(
            throws: CommunicatorError.timedOut(
                operation: "all-reduce of 4 floats", phase: "step 3 (gradients)", seconds: 0.2,
                rank: 0, size: 2)
        ) {
            try values.withUnsafeMutableBufferPointer { try watched.allReduceSum($0) }
        }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(200) && elapsed < .seconds(5), "stopped after \(elapsed)")
        #expect(record.all.count == 1)
        let message = "\(record.all.first!)"
        #expect(
            message.contains(
                "all-reduce of 4 floats at step 3 (gradients) did not complete within 0.2 s"))
        #expect(
            message.contains("--collective-timeout") && message.contains("checkpoint is intact"))
    }

    @Test func timelyOperationsPassThroughUntouched() throws {
        let peer = ScriptedCommunicator(size: 2)
        peer.onAllReduceSum = { values in
            for i in values.indices { values[i] *= 2 }
        }
        let record = TimeoutRecord()
        let watched = WatchedCommunicator(peer, timeout: 5) { record.append($0) }
        var values: [Float] = [1, 2]
        for _ in 0..<50 {
            try values.withUnsafeMutableBufferPointer { try watched.allReduceSum($0) }
        }
        try watched.barrier()
        #expect(values == [pow(2, 50), pow(2, 51)])
        #expect(peer.calls.count == 51 && record.all.isEmpty)
    }

    @Test func aTrainerWhosePeerHangsStopsAtThatStep() throws {
        let (configuration, task) = try tinyConfiguration("listops", steps: 3)
        let gate = Gate()
        let peer = ScriptedCommunicator(size: 2)
        peer.onAllReduceSum = { _ in _ = gate.wait(seconds: 20) }
        let watched = WatchedCommunicator(peer, timeout: 1) { _ in gate.open() }
        let trainer = try Trainer(
            configuration: configuration, task: task, run: nil, communicator: watched)
        #expect {
            _ = try trainer.train()
        } throws: { error in
            guard case CommunicatorError.timedOut(let operation, let phase, _, _, _) = error else {
                return false
            }
            return operation.hasPrefix("all-reduce of") && phase == "step 1 (gradients)"
        }
    }

    @Test func aBatchTheGroupCannotSplitIsRefused() throws {
        let (configuration, task) = try tinyConfiguration("listops")  // batch 8
        #expect {
            _ = try Trainer(
                configuration: configuration, task: task, run: nil,
                communicator: ScriptedCommunicator(size: 3))
        } throws: { error in
            "\(error)".contains("batch size 8 is not divisible by the 3 processes")
        }
    }

    @Test(arguments: [0, 1])
    func eachProcessTakesItsContiguousShardPaddedLikeTheWholeBatch(_ rank: Int) throws {
        let (configuration, task) = try tinyConfiguration("listops")
        let whole = try Trainer(configuration: configuration, task: task, run: nil).batch(at: 3)
        let group = ScriptedCommunicator(rank: rank, size: 2)
        group.onAllReduce = { values, reduction in  // the other shard's lengths: the whole batch's
            if reduction == .maximum { values[0] = Swift.max(values[0], Double(whole.length)) }
        }
        let shard = try Trainer(
            configuration: configuration, task: task, run: nil, communicator: group
        ).shard(at: 3)
        let rows = (rank * 4)..<(rank * 4 + 4)
        #expect(shard.exampleIndices == Array(whole.exampleIndices[rows]))
        #expect(shard.length == whole.length)
        #expect(
            shard.tokens.values
                == Array(
                    whole.tokens.values[
                        (rows.lowerBound * whole.length)..<(rows.upperBound * whole.length)]))
        #expect(
            shard.mask.scalars
                == Array(
                    whole.mask.scalars[
                        (rows.lowerBound * whole.length)..<(rows.upperBound * whole.length)]))
        #expect(shard.labels.values == Array(whole.labels.values[rows]))
    }

    @Test func process0sStateReachesTheOthers() throws {
        var (configuration, task) = try tinyConfiguration("listops", steps: 2)
        let trained = try Trainer(configuration: configuration, task: task, run: nil)
        _ = try trained.train()
        // Process 0 sends; a recording communicator keeps what it sent.
        let root = ScriptedCommunicator(rank: 0, size: 2)
        var sent: [[UInt8]] = []
        root.onBroadcast = { bytes, _ in sent.append(Array(bytes)) }
        #expect(
            try Replicas.broadcastState(
                model: trained.model, optimizer: trained.optimizer, step: 2, over: root) == 2)
        // Process 1, with other initial weights, receives the same bytes in the same order.
        configuration.model.seed = 99
        let other = try Trainer(configuration: configuration, task: task, run: nil)
        let receiver = ScriptedCommunicator(rank: 1, size: 2)
        var next = 0
        receiver.onBroadcast = { bytes, _ in
            bytes.copyBytes(from: sent[next])
            next += 1
        }
        #expect(
            try Replicas.broadcastState(
                model: other.model, optimizer: other.optimizer, step: 0, over: receiver) == 2)
        for ((name, a), (_, b)) in zip(
            trained.model.namedParameters(), other.model.namedParameters())
        {
            #expect(a.value.scalars == b.value.scalars, "parameter \(name)")
        }
        let expected = trained.optimizer.state(), received = other.optimizer.state()
        #expect(received.map(\.0) == expected.map(\.0))
        for ((name, a), (_, b)) in zip(expected, received) {
            #expect(a.scalars == b.scalars, "optimizer state \(name)")
        }
        #expect(Replicas.fingerprint(other.model) == Replicas.fingerprint(trained.model))
    }

    @Test func replicasThatDriftApartAreCaught() throws {
        let (configuration, task) = try tinyConfiguration("listops")
        let model = try Trainer(configuration: configuration, task: task, run: nil).model
        // process 0 sends this process's own fingerprint
        let agreeing = ScriptedCommunicator(rank: 1, size: 2)
        try Replicas.verify(model, step: 7, over: agreeing)
        let drifting = ScriptedCommunicator(rank: 1, size: 2)
        drifting.onBroadcast = { bytes, _ in
            for i in bytes.indices { bytes[i] = ~bytes[i] }  // process 0 holds something else
        }
        #expect(throws: CommunicatorError.replicasDiverged(step: 7, differing: 1, size: 2)) {
            try Replicas.verify(model, step: 7, over: drifting)
        }
    }
}
