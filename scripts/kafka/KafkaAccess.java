import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

/**
 * A Netledger component's Kafka user (SCRAM-SHA-512) and the ACLs of its role, nothing more:
 *
 *   ingester           writes (and creates) P.cluster-events
 *   planner            reads P.cluster-events in groups netledger-planner*, writes (and creates)
 *                      P.plan and creates P.node-status
 *   api                reads P.node-status in groups netledger-api*
 *   executor NODE      reads P.plan in groups netledger-executor-NODE-*, writes P.node-status
 *                      (NODE "*": the executors of every node, in groups netledger-executor-*)
 *
 * Usage: KafkaAccess ADMIN_PROPERTIES USER PASSWORD_FILE ROLE TOPIC_PREFIX [NODE]
 */
public final class KafkaAccess {
  private final String principal;
  private final List<AclBinding> acls = new ArrayList<>();

  private KafkaAccess(String user) {
    this.principal = "User:" + user;
  }

  private void allow(ResourceType type, String name, PatternType pattern, AclOperation... operations) {
    for (AclOperation operation : operations) {
      acls.add(
          new AclBinding(
              new ResourcePattern(type, name, pattern),
              new AccessControlEntry(principal, "*", operation, AclPermissionType.ALLOW)));
    }
  }

  private void topic(String name, AclOperation... operations) {
    allow(ResourceType.TOPIC, name, PatternType.LITERAL, operations);
  }

  private void groups(String prefix) {
    allow(ResourceType.GROUP, prefix, PatternType.PREFIXED, AclOperation.READ, AclOperation.DESCRIBE);
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println("usage: KafkaAccess ADMIN_PROPERTIES USER PASSWORD_FILE ROLE TOPIC_PREFIX [NODE]");
      System.exit(2);
    }
    Properties admin = new Properties();
    try (var reader = Files.newBufferedReader(Path.of(args[0]))) {
      admin.load(reader);
    }
    String user = args[1];
    String password = Files.readString(Path.of(args[2])).trim();
    String role = args[3];
    String prefix = args[4];
    KafkaAccess access = new KafkaAccess(user);
    AclOperation read = AclOperation.READ, write = AclOperation.WRITE;
    AclOperation describe = AclOperation.DESCRIBE, create = AclOperation.CREATE;
    switch (role) {
      case "ingester" -> access.topic(prefix + ".cluster-events", write, describe, create);
      case "planner" -> {
        access.topic(prefix + ".cluster-events", read, describe);
        access.groups("netledger-planner");
        access.topic(prefix + ".plan", write, describe, create);
        access.topic(prefix + ".node-status", describe, create);
      }
      case "api" -> {
        access.topic(prefix + ".node-status", read, describe);
        access.groups("netledger-api");
      }
      case "executor" -> {
        if (args.length < 6) throw new IllegalArgumentException("an executor's user names its node");
        access.topic(prefix + ".plan", read, describe);
        // "*": one user for the executors of every node (deploy/'s DaemonSet shares one Secret).
        access.groups("*".equals(args[5]) ? "netledger-executor-" : "netledger-executor-" + args[5] + "-");
        access.topic(prefix + ".node-status", write, describe);
      }
      default -> throw new IllegalArgumentException("unknown role " + role);
    }
    try (Admin client = Admin.create(admin)) {
      client
          .alterUserScramCredentials(
              List.of(
                  new UserScramCredentialUpsertion(
                      user, new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password)))
          .all()
          .get();
      client.createAcls(access.acls).all().get();
    }
  }
}
