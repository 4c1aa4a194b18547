// Hadoop's own mini cluster in a JVM of its own: a NameNode and two DataNodes (MiniDFSCluster), a
// ResourceManager and a NodeManager (MiniYARNCluster), all on 127.0.0.1. Hadoop ships no
// command-line launcher for them, hence these few lines (compiled by scripts/minicluster setup).
//
//   java MiniCluster DIR      data under DIR/data, client configuration written to DIR/conf
//                             (a HADOOP_CONF_DIR), the hdfs:// URI to DIR/uri once all is up;
//                             runs until the JVM is stopped (SIGTERM), then stops the daemons.
import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;

public class MiniCluster {
  public static void main(String[] args) {
    try {
      start(args);
    } catch (Throwable e) {
      // the daemons' threads would keep a half-started JVM alive: stop it, scripts/minicluster says so
      e.printStackTrace();
      System.exit(1);
    }
  }

  private static void start(String[] args) throws Exception {
    File dir = new File(args[0]).getAbsoluteFile();
    File confDir = new File(dir, "conf");
    confDir.mkdirs();
    String host = "127.0.0.1";

    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, new File(dir, "data/dfs").getPath());
    // DataNodes register and are reached by this address, not the machine's hostname
    conf.set("dfs.datanode.hostname", host);
    conf.setBoolean("dfs.client.use.datanode.hostname", true);
    conf.setInt("dfs.replication", 2);
    // a checksum of the file as HDFS keeps it, comparable across block sizes
    conf.set("dfs.checksum.combine.mode", "COMPOSITE_CRC");
    int nnPort = Integer.parseInt(System.getProperty("minicluster.nnPort", "0"));
    MiniDFSCluster dfs = new MiniDFSCluster.Builder(conf).numDataNodes(2).nameNodePort(nnPort).format(true).build();
    dfs.waitActive();
    String uri = "hdfs://" + host + ":" + dfs.getNameNodePort();

    YarnConfiguration yconf = new YarnConfiguration(conf);
    yconf.set("fs.defaultFS", uri);
    yconf.set(YarnConfiguration.RM_HOSTNAME, host);
    yconf.set(YarnConfiguration.NM_ADDRESS, host + ":0");
    yconf.set("yarn.nodemanager.hostname", host);
    yconf.set("yarn.nodemanager.bind-host", host);
    yconf.set("yarn.resourcemanager.bind-host", host);
    // one queue, first come first served (the capacity scheduler needs a queue file of its own)
    yconf.set(YarnConfiguration.RM_SCHEDULER,
        "org.apache.hadoop.yarn.server.resourcemanager.scheduler.fifo.FifoScheduler");
    // sized for a shared 2-core machine: small containers, no memory policing by the NM
    yconf.setInt(YarnConfiguration.NM_PMEM_MB, Integer.getInteger("minicluster.nmMemoryMb", 6144));
    yconf.setInt(YarnConfiguration.NM_VCORES, 4);
    yconf.setBoolean(YarnConfiguration.NM_PMEM_CHECK_ENABLED, false);
    yconf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
    yconf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
    yconf.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_MB, 6144);
    yconf.setFloat(YarnConfiguration.NM_MAX_PER_DISK_UTILIZATION_PERCENTAGE, 99.0f);
    // keep the containers' logs after they end, for an audit of the run (and the drill's checks)
    yconf.setInt(YarnConfiguration.DEBUG_NM_DELETE_DELAY_SEC, 3600);
    MiniYARNCluster yarn = new MiniYARNCluster("clearsweep", 1, 1, 1);
    yarn.init(yconf);
    yarn.start();
    if (!yarn.waitForNodeManagersToConnect(60000)) {
      throw new IllegalStateException("the NodeManager did not register with the ResourceManager");
    }

    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try { yarn.stop(); } catch (Exception e) { e.printStackTrace(); }
      try { dfs.shutdown(); } catch (Exception e) { e.printStackTrace(); }
    }));

    // The client configuration: YARN's (the ports are only known now) and HDFS's address
    // (only yarn.* keys: the rest of the daemons' configuration names test-only classes such as
    // MiniDFSCluster's StaticMapping, which a client does not have)
    Configuration client = new Configuration(false);
    for (java.util.Map.Entry<String, String> e : yarn.getConfig()) {
      if (e.getKey().startsWith("yarn.")) {
        client.set(e.getKey(), yarn.getConfig().get(e.getKey()));
      }
    }
    write(client, new File(confDir, "yarn-site.xml"));
    Configuration core = new Configuration(false);
    core.set("fs.defaultFS", uri);
    write(core, new File(confDir, "core-site.xml"));
    Configuration hdfs = new Configuration(false);
    hdfs.set("dfs.client.use.datanode.hostname", "true");
    hdfs.set("dfs.replication", "2");
    hdfs.set("dfs.checksum.combine.mode", "COMPOSITE_CRC");
    write(hdfs, new File(confDir, "hdfs-site.xml"));
    File tmp = new File(dir, "uri.tmp");
    Files.write(tmp.toPath(), (uri + "\n").getBytes("UTF-8"));
    Files.move(tmp.toPath(), new File(dir, "uri").toPath(), StandardCopyOption.ATOMIC_MOVE);
    System.out.println("minicluster ready: " + uri + " rm " + client.get(YarnConfiguration.RM_ADDRESS));
    Thread.currentThread().join();
  }

  private static void write(Configuration conf, File file) throws Exception {
    try (OutputStream out = new FileOutputStream(file)) {
      conf.writeXml(out);
    }
  }
}
